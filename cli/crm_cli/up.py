"""`crm up`: the whole suite on one machine, in the order that lets each part find the others.

migrations -> seed -> broker -> topics -> services and gateway (in parallel) -> /readyz -> banner.
The demo data is written before the services start (on SQLite a second writer beside a running
service would meet "database is locked"); its events wait in each outbox until the service's relay
publishes them, and consumers read their topics from the earliest offset.

Once up, `crm up` supervises: a process that dies (a service, the gateway or the embedded broker)
is started again after a back-off (``RestartPolicy``) while the others keep serving (the gateway
answers 503 with Retry-After for a service that is down). The broker keeps nothing across a
restart, so its topics are created again at once; the relays notice the empty broker and publish
their outboxes again (crm_shared.relay, "Broker resets"). The suite stops on Ctrl-C or SIGTERM, or
when a process keeps failing, in the other order: gateway, services, broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from crm_shared.broker import EmbeddedBroker
from crm_shared.db import Database
from crm_shared.migrations import upgrade

from .installation import installation_secrets
from .output import LinePrefixer
from .plan import SINKS, ProcessPlan, SuitePlan
from .services import NotAvailable, gateway, load, missing_parts, module_available, run_seed, settings_for
from .supervisor import (
    Child,
    ChildSpec,
    Interrupted,
    RestartPolicy,
    StartupFailed,
    Supervisor,
    describe_exit,
    port_in_use,
)
from .topics import catalogue, create_topics, partitions_of

READY_LINE = "Qazaq CRM is up"
BROKER = "broker"
READINESS_POLL_S = 0.5


def seed_summary(result: object) -> str:
    """A seed function's report, when it returns one as a mapping (e.g. {"created": 300})."""
    if isinstance(result, dict) and result:
        return " (" + ", ".join(f"{key} {value}" for key, value in result.items()) + ")"
    return ""


def demo_users() -> tuple[str, list[tuple[str, str]]]:
    """The gateway's demo users (its seed module's DEMO_USERS) and their password, for the banner."""
    module = (gateway().seed or "").split(":")[0]
    try:
        users = load(f"{module}:DEMO_USERS")
        password = load(f"{module}:DEMO_PASSWORD")
    except NotAvailable:
        return "", []
    described = []
    for user in users:
        where = getattr(user, "branch_code", None) or getattr(user, "region_code", None)
        role = str(getattr(user, "role", "")).replace("_", " ")
        described.append((user.username, f"{role}, {where}" if where else role))
    return password, described


class StopRequest:
    """Set by SIGINT/SIGTERM; a second signal asks to stop without waiting."""

    def __init__(self) -> None:
        self.requested = False
        self.forced = False

    def __call__(self, signum, _frame) -> None:
        if self.requested:
            self.forced = True
        self.requested = True

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self)


class _LineWriter(io.TextIOBase):
    """A text stream that forwards each complete line to the prefixer (for seed output)."""

    def __init__(self, printer: LinePrefixer, name: str) -> None:
        self.printer, self.name, self.buffer_ = printer, name, ""

    def write(self, text: str) -> int:
        self.buffer_ += text
        while "\n" in self.buffer_:
            line, self.buffer_ = self.buffer_.split("\n", 1)
            self.printer.emit(self.name, line)
        return len(text)

    def flush(self) -> None:
        if self.buffer_:
            self.printer.emit(self.name, self.buffer_)
            self.buffer_ = ""


@dataclass
class _Restarts:
    """One process's exits in a row, and when it is due to start again."""

    in_a_row: int = 0
    due_at: float | None = None
    readiness_checked_at: float = 0.0


class SuiteRunner:
    def __init__(
        self,
        plan: SuitePlan,
        *,
        seed: bool,
        ready_timeout_s: float,
        printer: LinePrefixer,
        restart_policy: RestartPolicy | None = None,
    ) -> None:
        self.plan = plan
        self.seed = seed
        self.ready_timeout_s = ready_timeout_s
        self.printer = printer
        self.restart_policy = restart_policy or RestartPolicy()
        self.stop = StopRequest()
        self.supervisor = Supervisor(printer, stop_requested=lambda: self.stop.requested)
        self.broker: EmbeddedBroker | None = None
        self._broker_started_at = 0.0
        self._restarts: dict[str, _Restarts] = {}

    def say(self, message: str) -> None:
        self.printer.emit("crm", message)

    def fail(self, message: str, last_lines: list[str] = ()) -> int:
        self.say(f"error: {message}")
        for line in last_lines:
            self.say(f"  {line}")
        return 1

    # -- checks that run before anything starts -------------------------------------------
    def preflight(self) -> str | None:
        taken = [claim for claim in self.plan.port_claims() if port_in_use(self.plan.host, claim.port)]
        if taken:
            return "; ".join(f"port {c.port} ({c.owner}) on {self.plan.host} is already in use" for c in taken) + (
                f". Stop what holds {'it' if len(taken) == 1 else 'them'}, or choose other ports (--gateway-port, "
                "--broker-port, CRM_<SERVICE>_HTTP_PORT, CRM_<SERVICE>_GRPC_PORT)."
            )
        missing = {p.name: missing_parts(p.spec) for p in self.plan.processes}
        missing = {name: parts for name, parts in missing.items() if parts}
        if missing:
            return "; ".join(f"{name} is not there yet (missing {', '.join(parts)})" for name, parts in missing.items())
        return None

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> int:
        self.stop.install()
        problem = self.preflight()
        if problem:
            return self.fail(problem)
        try:
            return self._start_and_wait()
        except StartupFailed as failure:
            suffix = "; its last lines:" if failure.last_lines else ""
            return self.fail(f"{failure.name} {failure.reason}{suffix}", failure.last_lines)
        except Interrupted:
            return 0
        finally:
            self.shutdown()

    def _start_and_wait(self) -> int:
        plan = self.plan
        plan.set_secrets(installation_secrets(plan.var_dir))
        self.migrate()
        if self.seed:
            self.seed_demo_data()
        if self.stop.requested:
            return 0
        if plan.broker_port is not None:
            self.say(f"starting the Kafka-protocol broker (Tansu) on {plan.kafka_bootstrap}, log {plan.broker_log}")
            self.broker = EmbeddedBroker(
                plan.connect_host, plan.broker_port, log_path=plan.broker_log, new_session=True
            )
            try:
                self.broker.start()
            except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
                return self.fail(f"the broker did not start: {exc}", _tail_of_file(plan.broker_log))
            self._broker_started_at = time.monotonic()
        else:
            self.say(f"using the external Kafka at {plan.kafka_bootstrap}")
        topics = catalogue()
        try:
            self._create_topics(topics)
        except Exception as exc:
            raise StartupFailed(
                "kafka",
                f"at {plan.kafka_bootstrap}: the topics could not be created ({exc.__class__.__name__}: {exc})",
                [],
            ) from exc
        self.say(f"{len(topics)} topics of the catalogue are on the broker")

        self.say(
            f"starting the dev SMTP and SMPP sinks on {plan.connect_host}:{plan.smtp_sink_port} and "
            f":{plan.smpp_sink_port} (every message the suite sends lands in {plan.dev_outbox})"
        )
        self.supervisor.start(ChildSpec(SINKS, plan.sinks_argv(), {}))
        for process in plan.processes:
            self.say(
                f"starting {process.name} on http://{plan.connect_host}:{process.http_port}"
                + (f" (gRPC {process.grpc_port})" if process.grpc_port else "")
            )
            self.supervisor.start(ChildSpec(process.name, process.argv, process.env, process.ready_url))
        self.supervisor.wait_ready(self.ready_timeout_s)
        self.say("every process answers its readiness check")
        self.banner()
        return self.watch()

    def _create_topics(self, topics: list[dict]) -> None:
        asyncio.run(create_topics(self.plan.kafka_bootstrap, partitions_of(topics)))

    def migrate(self) -> None:
        for process in self.plan.processes:
            self.say(f"migrating {process.name}")
            try:
                upgrade(process.spec.migrations_path(), process.database_url)
            except Exception as exc:
                raise StartupFailed(process.name, f"migrations failed: {exc.__class__.__name__}: {exc}", []) from exc

    def seed_demo_data(self) -> None:
        async def seed_one(process: ProcessPlan) -> None:
            spec = process.spec
            if not spec.seed or not module_available(spec.seed):
                self.say(f"{spec.name} has no demo data yet ({spec.seed} is not there); skipped")
                return
            db = Database(process.database_url)
            try:
                settings = settings_for(
                    spec,
                    database_url=process.database_url,
                    internal_token_secret=self.plan.internal_token_secret,
                    kafka_bootstrap_servers=self.plan.kafka_bootstrap,
                )
                result = await run_seed(spec, db, settings)
            finally:
                await db.dispose()
            self.say(f"{spec.name} demo data is in place{seed_summary(result)}")

        async def seed_all() -> None:  # each service has its own database: seed them side by side
            await asyncio.gather(*(seed_one(process) for process in self.plan.processes))

        writer = _LineWriter(self.printer, "seed")
        try:
            with contextlib.redirect_stdout(writer):
                asyncio.run(seed_all())
        except NotAvailable as exc:
            raise StartupFailed("seed", str(exc), []) from exc
        except Exception as exc:
            raise StartupFailed("seed", f"failed: {exc.__class__.__name__}: {exc}", self.printer.tail("seed")) from exc
        finally:
            writer.flush()

    def banner(self) -> None:
        plan = self.plan
        lines = [
            "",
            f"Open the web console and API at  {plan.gateway_url}",
            f"API documentation (Swagger UI)   {plan.gateway_url}/docs",
        ]
        for process in plan.processes:
            if not process.spec.is_gateway:
                grpc = f", gRPC {plan.connect_host}:{process.grpc_port}" if process.grpc_port else ""
                lines.append(f"{process.name:<32} http://{plan.connect_host}:{process.http_port}{grpc}")
        lines.append(f"{'Kafka bootstrap':<32} {plan.kafka_bootstrap}")
        lines.append(f"{'traces (all processes)':<32} {plan.trace_file}")
        password, users = demo_users() if self.seed else ("", [])
        if users:
            lines.append(f'Demo users (password "{password}"):')
            lines.extend(f"  {user:<20} {what}" for user, what in users)
        lines += ["Press Ctrl-C to stop.", READY_LINE]
        for line in lines:
            self.say(line)

    def watch(self) -> int:
        """Until Ctrl-C or SIGTERM (0), or a process that keeps failing (1): a process that dies
        is started again after a back-off, in its place, and the rest keep running."""
        with httpx.Client(timeout=1.0, trust_env=False) as client:
            while not self.stop.requested:
                now = time.monotonic()
                for child in list(self.supervisor.children):
                    failed = self._look_after(child, now, client)
                    if failed is not None:
                        return failed
                if self.broker is not None:
                    failed = self._look_after_broker(now)
                    if failed is not None:
                        return failed
                time.sleep(0.2)
        return 0

    def _died(self, name: str, code: int, ran_s: float, last_lines: list[str]) -> int | None:
        """Schedules a restart of ``name``; 1 (after saying why) when it keeps failing."""
        policy = self.restart_policy
        state = self._restarts.setdefault(name, _Restarts())
        if ran_s >= policy.stable_after_s:
            state.in_a_row = 0
        state.in_a_row += 1
        if state.in_a_row > policy.max_restarts:
            return self.fail(
                f"{name} keeps failing: it {describe_exit(code)}, {state.in_a_row} exits in a row; "
                "stopping the suite. Its last lines:",
                last_lines[-15:],
            )
        delay = policy.delay(state.in_a_row)
        state.due_at = time.monotonic() + delay
        self.say(
            f"{name} {describe_exit(code)} after {ran_s:.0f}s; restarting it in {delay:g}s "
            f"(exit {state.in_a_row} in a row, at most {policy.max_restarts}); the rest keep running."
            + (" Its last lines:" if last_lines else "")
        )
        for line in last_lines[-8:]:
            self.say(f"  {line}")
        return None

    def _look_after(self, child: Child, now: float, client: httpx.Client) -> int | None:
        state = self._restarts.setdefault(child.name, _Restarts())
        code = child.exited()
        if code is not None and state.due_at is None:
            child.pump.join(timeout=2)  # its last lines
            return self._died(child.name, code, now - child.started_at, self.printer.tail(child.name))
        if state.due_at is not None and now >= state.due_at:
            state.due_at = None
            fresh = self.supervisor.restart(child)
            self.say(f"restarted {child.name} (pid {fresh.pid})")
        elif code is None and not child.ready and now - state.readiness_checked_at >= READINESS_POLL_S:
            state.readiness_checked_at = now
            try:
                child.ready = child.spec.ready_url is None or client.get(child.spec.ready_url).status_code == 200
            except httpx.HTTPError:
                child.ready = False
            if child.ready:
                self.say(f"{child.name} is ready again")
        return None

    def _look_after_broker(self, now: float) -> int | None:
        state = self._restarts.setdefault(BROKER, _Restarts())
        proc = self.broker.proc
        code = proc.poll() if proc is not None else None
        if state.due_at is None and (proc is None or code is not None):
            if proc is not None:
                self.broker.proc = None
            return self._died(
                BROKER,
                code if code is not None else 1,
                now - self._broker_started_at,
                _tail_of_file(self.plan.broker_log, 8),
            )
        if state.due_at is not None and now >= state.due_at:
            state.due_at = None
            return self._restart_broker()
        return None

    def _restart_broker(self) -> int | None:
        plan = self.plan
        broker = EmbeddedBroker(plan.connect_host, plan.broker_port, log_path=plan.broker_log, new_session=True)
        self._broker_started_at = time.monotonic()
        try:
            broker.start()
        except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
            self.say(f"the broker did not start again: {exc}")
            broker.stop()
            return self._died(BROKER, 1, 0.0, _tail_of_file(plan.broker_log, 8))
        self.broker = broker
        topics = catalogue()
        try:
            self._create_topics(topics)
            made = f"the {len(topics)} topics of the catalogue were created again"
        except Exception as exc:  # clients create a topic they ask for; the relays publish anyway
            made = f"creating the topics failed ({exc.__class__.__name__}: {exc})"
        self.say(
            f"restarted the broker (pid {broker.proc.pid}) on {plan.kafka_bootstrap}; it kept nothing (memory only): "
            f"{made}, and each relay publishes its outbox again"
        )
        return None

    def shutdown(self) -> None:
        if self.supervisor.children:
            self.say("stopping " + ", ".join(c.name for c in reversed(self.supervisor.children)))
            codes = self.supervisor.stop_all(force=lambda: self.stop.forced)
            self.say("stopped: " + ", ".join(f"{name} ({code})" for name, code in codes.items()))
        if self.broker is not None:
            if self.broker.proc is not None and self.broker.proc.poll() is None:
                self.broker.proc.send_signal(signal.SIGCONT)  # a frozen broker cannot stop
            self.broker.stop()
            self.say("broker stopped")


def _tail_of_file(path: Path, lines: int = 15) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
