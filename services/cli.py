"""`crm`: run, migrate and operate the platform's components.

crm serve <component> [--host H] [--port P]
crm migrate <component>|all
crm revision <component> -m MESSAGE   autogenerate a migration from the models
crm rotate-keys [component]  re-encrypt every declared encrypted field under the active key, re-index every blind index under the current key
crm verify-audit <component> check the hash chain of a component's audit trail
crm run-job <component> <job>  run a scheduled job once
crm broker [--port P]        local Kafka-protocol broker with every topic (development, tests)
crm token --role ROLE [--sub ID]   a signed bearer token from the local development key
crm screening load --list FILE --format sdn-csv|ftm [--name NAME]
crm screening match --names FILE --out FILE
crm churn ...                churn models: train, score, models, rollback (crm churn --help)
"""

import argparse
import os
import sys

from services.components import COMPONENTS, migrations_of, spec_of


def serve(component: str, host: str, port: int | None) -> None:
    import uvicorn

    from services.kit.observability import serve_metrics

    settings = spec_of(component).settings
    port = port or int(os.environ.get("PORT", COMPONENTS[component][1]))
    os.environ["CRM_COMPONENT"] = component  # read by the app factory in the server process
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, host)
    uvicorn.run(
        "services.cli:create_component_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,  # no banner naming the server software
        # Slow or idle clients: an idle keep-alive connection is closed after a few seconds, and
        # beyond this many open connections new ones answer 503 instead of queueing.
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_connections,
        lifespan="on",
    )


def create_component_app():
    """The ASGI app of the component `crm serve` was asked for."""
    from services.kit.app import build_app

    return build_app(spec_of(os.environ["CRM_COMPONENT"]))


def migrate(component: str) -> None:
    from services.kit.migrations import upgrade

    names = [c for c in COMPONENTS] if component == "all" else [component]
    for name in names:
        upgrade(*migrations_of(name))
        print(f"{name}: migrations applied")


def revision(component: str, message: str) -> None:
    from services.kit.migrations import new_revision

    spec = spec_of(component)
    new_revision(spec.migrations, spec.settings.database_url, spec.metadata, message)


def verify_audit(component: str) -> int:
    """Exit 0 if the chain is intact and agrees with every checkpoint of it on the broker; 1 if
    broken; 3 if the checkpoints or the chain cannot be read (a chain that cannot be checked is
    not passed, and is not called broken either)."""
    import asyncio

    from services.kit.audit import CheckpointStore
    from services.kit.db import create_engine

    spec = spec_of(component)
    if spec.audit is None:
        print(f"{component} keeps no audit trail")
        return 2

    async def checkpoints():
        return await CheckpointStore(spec.settings.kafka(), component).read(spec.audit.chain)

    async def run(anchors):
        engine = create_engine(spec.settings.database_url, spec.settings)
        try:
            return await spec.audit.verify(engine, anchors)
        finally:
            await engine.dispose()

    try:
        anchors = asyncio.run(checkpoints())
    except Exception as error:
        print(f"{component}: cannot read the audit checkpoints ({type(error).__name__}); the chain was not checked")
        return 3
    try:
        result = asyncio.run(run(anchors))
    except Exception as error:  # the database away or refusing connections: not a broken chain
        print(f"{component}: cannot read the audit trail ({type(error).__name__}); the chain was not checked")
        return 3
    if result.intact:
        print(
            f"{component}: audit chain intact ({result.sealed} sealed records, {result.unsealed} awaiting sealing; "
            f"{result.checkpoints} checkpoints agree)"
        )
        return 0
    print(f"{component}: audit chain BROKEN at position {result.broken_at}: {result.problem}")
    return 1


def rotate_keys(component: str | None) -> None:
    """Re-encrypt every declared encrypted field of `component` (or every one that encrypts)."""
    import asyncio

    from services.kit.rotation import rotate_component
    from services.kit.settings import EncryptionSettings

    for name in [component] if component else list(COMPONENTS):
        spec = spec_of(name)
        if not isinstance(spec.settings, EncryptionSettings) or spec.catalogue is None:
            continue
        rotated, reindexed = asyncio.run(rotate_component(spec))
        for table, count in rotated.items():
            print(f"{name}: {count} {table} rows re-encrypted under the active key")
        for table, count in reindexed.items():
            print(f"{name}: {count} {table} rows re-indexed under the current blind-index key")


def run_job(component: str, name: str) -> int:
    import asyncio

    from services.kit.db import create_engine, session_factory

    spec = spec_of(component)
    jobs = {job.name: job for job in spec.jobs}
    if name not in jobs:
        print(f"{component} has no job {name!r}; its jobs: {', '.join(sorted(jobs)) or 'none'}")
        return 2

    async def run():
        engine = create_engine(spec.settings.database_url, spec.settings)
        try:
            total = 0
            while handled := await jobs[name].run(session_factory(engine)):
                total += handled
            return total
        finally:
            await engine.dispose()

    print(f"{component}/{name}: {asyncio.run(run())} handled")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="crm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve one component over HTTP")
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int)

    p = commands.add_parser("migrate", help="apply a component's database migrations")
    p.add_argument("component", choices=[*sorted(COMPONENTS), "all"])

    p = commands.add_parser(
        "revision", help="autogenerate a migration from a component's models (its database must be at head)"
    )
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("-m", "--message", required=True)

    p = commands.add_parser(
        "verify-audit", help="check a component's audit chain; exit 1 if broken, 3 if it cannot be read"
    )
    p.add_argument("component", choices=sorted(COMPONENTS))

    p = commands.add_parser("run-job", help="run one of a component's scheduled jobs once (e.g. from a CronJob)")
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("job")

    p = commands.add_parser(
        "rotate-keys",
        help="re-encrypt every declared encrypted field under the active key and re-index every blind index "
        "under the current blind-index key (online, in batches)",
    )
    p.add_argument("component", nargs="?", choices=sorted(COMPONENTS), help="one component (default: every one)")

    p = commands.add_parser("broker", help="run the local broker and create every topic")
    p.add_argument("--port", type=int, default=9092)

    p = commands.add_parser("token", help="print a bearer token signed with the local development key")
    p.add_argument("--role", required=True)
    p.add_argument("--sub", default=None, help="subject; for the customer role, the customer id")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")

    # Sanctions/PEP screening commands (services/profile/screening/cli.py).
    from services.profile.screening import cli as screening_cli

    screening_cli.add_commands(commands)

    commands.add_parser("churn", help="churn models: train, score, models, rollback (crm churn --help)")

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["churn"]:  # its own options and subcommands: services/churn/cli.py
        from services.churn.cli import main as churn

        sys.exit(churn(argv[1:]))
    args = parser.parse_args(argv)
    if args.command == "screening":
        sys.exit(screening_cli.run(args))
    if args.command == "serve":
        serve(args.component, args.host, args.port)
    elif args.command == "migrate":
        migrate(args.component)
    elif args.command == "revision":
        revision(args.component, args.message)
    elif args.command == "verify-audit":
        sys.exit(verify_audit(args.component))
    elif args.command == "run-job":
        sys.exit(run_job(args.component, args.job))
    elif args.command == "rotate-keys":
        rotate_keys(args.component)
    elif args.command == "broker":
        from events.broker import run_forever

        run_forever(args.port)
    elif args.command == "token":
        from gateway.auth import issue_dev_token

        print(issue_dev_token(role=args.role, subject=args.sub, ttl_seconds=args.ttl))


if __name__ == "__main__":
    main()
