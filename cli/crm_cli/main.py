"""The `crm` command: start the whole suite, migrate, seed, serve one service, replay the
outbox, list and create the topics."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from crm_shared.settings import project_root

from . import services as registry
from .installation import SecretFileEmpty, installation_secrets, keep_new_files_private, prepare_var_dir
from .output import LinePrefixer
from .plan import BROKER_PORT_ENV, DEFAULT_BROKER_PORT, DEFAULT_HOST, PlanError, build_plan, database_url
from .services import NotAvailable, ServiceSpec, UnknownService
from .timeparse import parse_since
from .topics import catalogue, create_topics, partitions_of, render_table, topic_rows

app = typer.Typer(help="Qazaq CRM: run and operate the suite.", no_args_is_help=True, add_completion=False)
outbox_app = typer.Typer(help="The transactional outbox of a service.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")

VarDirOption = Annotated[
    Path | None,
    typer.Option(
        "--var-dir",
        envvar="CRM_VAR_DIR",
        help="Where the SQLite files, traces and the installation's secrets go (default <repo>/var).",
        file_okay=False,
    ),
]


def default_var_dir() -> Path:
    return project_root() / "var"


@app.callback()
def private_files() -> None:
    """Qazaq CRM: run and operate the suite."""
    keep_new_files_private()


def exit_with(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def selected(service: str | None) -> list[ServiceSpec]:
    if service is None:
        return registry.start_order()
    try:
        return [registry.get_service(service)]
    except UnknownService as exc:
        raise typer.BadParameter(str(exc), param_hint="SERVICE") from None


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@app.command()
def up(
    seed: Annotated[bool, typer.Option("--seed", help="Load the demo data (users, customers, pipeline).")] = False,
    host: Annotated[str, typer.Option(help="Interface every process listens on.")] = DEFAULT_HOST,
    gateway_port: Annotated[
        int | None, typer.Option(envvar="CRM_GATEWAY_HTTP_PORT", help="The gateway's HTTP port (default 8000).")
    ] = None,
    broker_port: Annotated[
        int | None,
        typer.Option(envvar=BROKER_PORT_ENV, help=f"The embedded broker's port (default {DEFAULT_BROKER_PORT})."),
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(
            metavar="BOOTSTRAP", help="Use this Kafka (host:port,...) instead of starting the embedded broker."
        ),
    ] = None,
    var_dir: VarDirOption = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for every /readyz.")] = 180.0,
) -> None:
    """Start the broker, every service and the gateway; Ctrl-C stops them all.

    Service ports: CRM_<SERVICE>_HTTP_PORT and CRM_<SERVICE>_GRPC_PORT (e.g. CRM_SALES_HTTP_PORT).
    Databases: CRM_<SERVICE>_DATABASE_URL, else an SQLite file per service in the var directory.
    """
    from .up import SuiteRunner

    try:
        plan = build_plan(
            env=os.environ,
            var_dir=var_dir or default_var_dir(),
            host=host,
            gateway_port=gateway_port,
            broker_port=broker_port,
            external_kafka=kafka,
        )
    except PlanError as exc:
        raise exit_with(str(exc), 2) from None
    printer = LinePrefixer(names=["crm", "seed", *(p.name for p in plan.processes)])
    code = SuiteRunner(plan, seed=seed, ready_timeout_s=ready_timeout, printer=printer).run()
    raise typer.Exit(code)


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="One service (default: all).")] = None,
    var_dir: VarDirOption = None,
) -> None:
    """Upgrade each service's database to the newest migration (CRM_<SERVICE>_DATABASE_URL or var/)."""
    from crm_shared.migrations import upgrade

    var = var_dir or default_var_dir()
    for spec in selected(service):
        url = database_url(spec, var, os.environ)
        if url.startswith("sqlite"):
            prepare_var_dir(var)
        if not (spec.migrations_path() / "env.py").is_file():
            raise exit_with(f"{spec.name} has no migrations yet ({spec.migrations_dir}/env.py is missing)")
        try:
            upgrade(spec.migrations_path(), url)
        except Exception as exc:
            raise exit_with(f"migrating {spec.name} failed: {exc.__class__.__name__}: {exc}") from None
        typer.echo(f"{spec.name}: {shown_url(url)} is at the newest migration")


@app.command()
def seed(
    service: Annotated[str | None, typer.Argument(help="One service (default: all).")] = None,
    var_dir: VarDirOption = None,
) -> None:
    """Load the demo data (idempotent); migrates first."""
    from crm_shared.db import Database

    from .up import seed_summary

    specs = selected(service)
    migrate(service, var_dir)
    var = var_dir or default_var_dir()

    async def run() -> None:
        for spec in specs:
            if not spec.seed:
                typer.echo(f"{spec.name}: no demo data")
                continue
            url = database_url(spec, var, os.environ)
            db = Database(url)
            try:
                result = await registry.run_seed(spec, db, registry.settings_for(spec, database_url=url))
            finally:
                await db.dispose()
            typer.echo(f"{spec.name}: demo data is in place{seed_summary(result)}")

    try:
        asyncio.run(run())
    except NotAvailable as exc:
        raise exit_with(str(exc)) from None
    except Exception as exc:
        raise exit_with(f"seeding failed: {exc.__class__.__name__}: {exc}") from None


@app.command()
def serve(
    service: Annotated[str, typer.Argument(envvar="CRM_SERVICE", help="The service to run (or CRM_SERVICE).")],
    host: Annotated[str | None, typer.Option(help="Default: CRM_<SERVICE>_HTTP_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: CRM_<SERVICE>_HTTP_PORT.")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    var_dir: VarDirOption = None,
) -> None:
    """Run one service (or the gateway) in the foreground with uvicorn: what a container runs.

    In the dev profile, signing secrets not given in the environment are the installation's (the
    var directory's, as `crm up` uses them), so that services served one by one accept each other."""
    spec = selected(service)[0]
    env = dict(os.environ)
    try:
        settings = registry.settings_for(spec)  # refuses bad production settings before uvicorn starts
        if settings.profile == "dev":
            for name, value in installation_secrets(var_dir or default_var_dir()).items():
                env.setdefault(spec.env_name(name), value)
    except NotAvailable as exc:
        raise exit_with(str(exc)) from None
    except (OSError, SecretFileEmpty) as exc:
        raise exit_with(f"the installation's secrets: {exc}") from None
    except ValueError as exc:
        raise exit_with(f"{spec.name} settings are not valid: {exc}") from None
    argv = spec.uvicorn_argv(
        sys.executable,
        host or settings.http_host,
        port or settings.http_port,
        "--workers",
        str(workers),
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    os.execve(sys.executable, argv, env)


@app.command("new-service")
def new_service(
    name: Annotated[str, typer.Argument(help="The service: lowercase words joined by _, e.g. loyalty.")],
    aggregate: Annotated[
        str | None,
        typer.Option(metavar="NOUN", help="Its first aggregate, singular (default: NAME without a trailing s)."),
    ] = None,
    plural: Annotated[
        str | None, typer.Option(metavar="NOUNS", help="The aggregate's plural, when it is not NOUN+s/es/ies.")
    ] = None,
    http_port: Annotated[int | None, typer.Option(help="Default: its 81NN slot (docs/development.md, Ports).")] = None,
    grpc_port: Annotated[int | None, typer.Option(help="Default: the 501NN of the same slot.")] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            file_okay=False, exists=True, help="Where services/ and contracts/ are (default: this repository)."
        ),
    ] = None,
) -> None:
    """Write a new service laid out by the service recipe: REST + gRPC for one aggregate, its
    migration, outbox events, a consumer, access rules, demo data and tests; its gRPC contract
    and stubs and its event contracts. Then print what is left to do by hand."""
    from . import scaffold

    taken_ports = [port for spec in registry.SERVICES for port in (spec.http_port, spec.grpc_port) if port]
    root = (root or project_root()).resolve()
    try:
        service = scaffold.plan(
            name,
            aggregate=aggregate,
            plural=plural,
            http_port=http_port,
            grpc_port=grpc_port,
            taken_names=registry.service_names(),
            taken_ports=taken_ports,
        )
        scaffold.create_service(root, service, ruff_config=scaffold.ruff_config_for(root))
    except scaffold.ScaffoldError as exc:
        raise exit_with(str(exc), 2) from None
    entry = scaffold.registry_entry(service, scaffold.spec_field_names(ServiceSpec))
    typer.echo(scaffold.next_steps(service, root, entry))


@outbox_app.command("replay")
def outbox_replay(
    service: Annotated[str, typer.Option("--service", help="Whose outbox.")],
    since: Annotated[str, typer.Option(help="ISO time (UTC unless it has an offset) or an age like 2h, 30m, 1d.")],
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    var_dir: VarDirOption = None,
) -> None:
    """Mark the events created since a moment unsent, so the running relay publishes them again
    (consumers apply each event once, by its id)."""
    spec = selected(service)[0]
    try:
        moment = parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    try:
        from crm_shared.relay import replay
    except ImportError:
        raise exit_with("the outbox relay (crm_shared.relay.replay) is not available yet") from None
    from crm_shared.db import Database

    url = database_url(spec, var_dir or default_var_dir(), os.environ)

    async def run() -> int:
        db = Database(url)
        try:
            return await replay(db, moment, topic)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    scope = f" on {topic}" if topic else ""
    typer.echo(
        f"{spec.name}: {count} events{scope} created since {moment.isoformat()} "
        "will be published again by the service's relay"
    )


@app.command()
def topics(
    create: Annotated[
        bool, typer.Option("--create", help="Create the topics on the broker (existing ones are kept).")
    ] = False,
    kafka: Annotated[
        str | None,
        typer.Option(metavar="BOOTSTRAP", help="Bootstrap servers (default 127.0.0.1:$CRM_BROKER_PORT, or :9092)."),
    ] = None,
    replication_factor: Annotated[int, typer.Option(min=1, help="Replicas of each new topic.")] = 1,
) -> None:
    """List the topic catalogue: topic, owning service, record key, event types."""
    listed = catalogue()
    if not listed:
        typer.echo("the topic catalogue (crm_contracts/events/topics/) is empty")
    else:
        typer.echo(render_table(("TOPIC", "OWNER", "KEY", "EVENTS"), topic_rows(listed)))
    if create:
        bootstrap = kafka or f"{DEFAULT_HOST}:{os.environ.get(BROKER_PORT_ENV) or DEFAULT_BROKER_PORT}"
        try:
            created = asyncio.run(create_topics(bootstrap, partitions_of(listed), replication_factor))
        except Exception as exc:
            raise exit_with(f"creating the topics on {bootstrap} failed: {exc.__class__.__name__}: {exc}") from None
        typer.echo(f"{len(listed)} topics are on {bootstrap} ({len(created)} created now)")


if __name__ == "__main__":
    app()
