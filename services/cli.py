"""`crm`: run, migrate and operate the platform's components.

    crm serve <component> [--host H] [--port P]
    crm migrate <component>|all
    crm rotate-keys              re-encrypt customer data under the active key
    crm verify-audit <component> check the hash chain of a component's audit trail
    crm run-job <component> <job>  run a scheduled job once
    crm broker [--port P]        local Kafka-protocol broker with every topic (development, tests)
    crm token --role ROLE [--sub ID]   a signed bearer token from the local development key
"""

import argparse
import os
import sys

from services.components import COMPONENTS, spec_of



def serve(component: str, host: str, port: int | None) -> None:
    import uvicorn

    port = port or int(os.environ.get("PORT", COMPONENTS[component][1]))
    os.environ["CRM_COMPONENT"] = component  # read by the app factory in the server process
    uvicorn.run(
        "services.cli:create_component_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
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
        spec = spec_of(name)
        upgrade(spec.migrations, spec.settings.database_url)
        print(f"{name}: migrations applied")


def verify_audit(component: str) -> int:
    """Exit 0 if the chain is intact and agrees with every checkpoint of it on the broker; 1 if
    broken; 3 if the checkpoints cannot be read (a chain that cannot be checked is not passed)."""
    import asyncio

    from services.kit.audit import CheckpointStore
    from services.kit.db import create_engine

    spec = spec_of(component)
    if spec.audit is None:
        print(f"{component} keeps no audit trail")
        return 2

    async def checkpoints():
        return await CheckpointStore(spec.settings.kafka_bootstrap_servers, component).read(spec.audit.chain)

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
    result = asyncio.run(run(anchors))
    if result.intact:
        print(f"{component}: audit chain intact ({result.sealed} sealed records, {result.unsealed} awaiting sealing; "
              f"{result.checkpoints} checkpoints agree)")
        return 0
    print(f"{component}: audit chain BROKEN at position {result.broken_at}: {result.problem}")
    return 1


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
    parser = argparse.ArgumentParser(prog="crm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="serve one component over HTTP")
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int)

    p = commands.add_parser("migrate", help="apply a component's database migrations")
    p.add_argument("component", choices=sorted(COMPONENTS) + ["all"])

    p = commands.add_parser("verify-audit", help="check a component's audit chain; exit 1 if broken")
    p.add_argument("component", choices=sorted(COMPONENTS))

    p = commands.add_parser("run-job", help="run one of a component's scheduled jobs once (e.g. from a CronJob)")
    p.add_argument("component", choices=sorted(COMPONENTS))
    p.add_argument("job")

    commands.add_parser("rotate-keys", help="re-encrypt profile data under the active key (online, in batches)")

    p = commands.add_parser("broker", help="run the local broker and create every topic")
    p.add_argument("--port", type=int, default=9092)

    p = commands.add_parser("token", help="print a bearer token signed with the local development key")
    p.add_argument("--role", required=True)
    p.add_argument("--sub", default=None, help="subject; for the customer role, the customer id")
    p.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")

    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.component, args.host, args.port)
    elif args.command == "migrate":
        migrate(args.component)
    elif args.command == "verify-audit":
        sys.exit(verify_audit(args.component))
    elif args.command == "run-job":
        sys.exit(run_job(args.component, args.job))
    elif args.command == "rotate-keys":
        from services.profile.keys import main as rotate_keys

        rotate_keys()
    elif args.command == "broker":
        from events.broker import run_forever

        run_forever(args.port)
    elif args.command == "token":
        from gateway.auth import issue_dev_token

        print(issue_dev_token(role=args.role, subject=args.sub, ttl_seconds=args.ttl))


if __name__ == "__main__":
    sys.exit(main())
