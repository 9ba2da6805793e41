"""Run a generated stack in a container engine and prove it works: `make run-stack ANSWERS=<answers.yml>`.

It generates the project from the answers file (as `copier copy --data-file` does), builds it, `up --wait`s
with a bounded time, checks that every service is healthy, asks `make smoke`, runs the round trips the
components declare (component.yml, `round_trips`: through the reverse proxy where there is one), takes the stack
down and up again and runs their reads once more (the data and the passwords must have survived), then
`down -v`. It prints a table as it goes and `N passed, N failed`; the exit status is 0 only if nothing failed.
On a failure it shows `compose ps` and the last log lines of each service that is not healthy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any

import yaml

from projects import CATALOG, copy_project, read_env

from extensions.catalog import Catalog, Component
from extensions.stack import Stack

from .engine import Engine, EngineError, open_engine
from .standins import build_standins

BUILD_TIMEOUT = 1800
WAIT_TIMEOUT = 240
REQUEST_TIMEOUT = 15
TARGETS_UP_SECONDS = 60  # four scrapes at Prometheus's 15 s interval
BURST_CLIENTS = 200  # at most this many requests of a step with repeat in flight at once
LOG_LINES = 40
PLACEHOLDER = re.compile(r"\{([a-z][a-z_]*)\}")


# --- the report -------------------------------------------------------------------------------------------------

@dataclass
class Row:
    check: str
    service: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    echo: Callable[[str], None] | None = None
    diagnostics: list[str] = field(default_factory=list)

    WIDTHS = (80, 10, 6, 8)

    def add(self, check: str, service: str, ok: bool, seconds: float, detail: str = "") -> bool:
        row = Row(check, service, ok, seconds, detail)
        self.rows.append(row)
        if self.echo:
            if len(self.rows) == 1:
                self.echo(self.header())
            self.echo(self.line(row))
        return ok

    @contextmanager
    def timed(self, check: str, service: str = "") -> Iterator[dict[str, Any]]:
        """Times the block, which may set outcome["ok"] and ["detail"]; StepFailed fails the row with its message,
        any other exception fails it too and goes on."""
        outcome: dict[str, Any] = {"ok": True, "detail": ""}
        start = time.monotonic()
        try:
            yield outcome
        except StepFailed as failure:
            outcome.update(ok=False, detail=str(failure))
        except BaseException as error:
            outcome.update(ok=False, detail=f"{type(error).__name__}: {error}")
            raise
        finally:
            self.add(check, service, outcome["ok"], time.monotonic() - start, outcome["detail"])

    @property
    def passed(self) -> int:
        return sum(row.ok for row in self.rows)

    @property
    def failed(self) -> int:
        return sum(not row.ok for row in self.rows)

    def header(self) -> str:
        names = ("check", "service", "result", "seconds")
        return "  ".join(name.ljust(width) for name, width in zip(names, self.WIDTHS, strict=True))

    def line(self, row: Row) -> str:
        cells = (row.check[:self.WIDTHS[0]], row.service, "ok" if row.ok else "FAILED", f"{row.seconds:.1f}")
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, self.WIDTHS, strict=True)).rstrip()
        return text + (f"\n    {row.detail}" if row.detail and not row.ok else "")

    def table(self) -> str:
        return "\n".join([self.header(), *(self.line(row) for row in self.rows)])

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def seconds(self, check: str) -> float:
        return sum(row.seconds for row in self.rows if row.check == check)


class StepFailed(Exception):
    """A check did not hold; the message says what was seen."""


# --- a running stack --------------------------------------------------------------------------------------------

class StackRun:
    """A generated project in an engine: build and start it, check it, take it down."""

    def __init__(self, engine: Engine, project: Path, report: Report):
        self.engine = engine
        self.project = project
        self.report = report
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        self.stack = Stack(CATALOG, answers)
        self.name = str(yaml.safe_load((project / "compose.yaml").read_text())["name"])
        self.tokens: dict[str, dict[str, Any]] = {}  # per round trip: {token} and what its steps kept

    # --- compose ------------------------------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        result = self.engine.run_compose(self.project, *args, timeout=timeout)
        if check and result.returncode:
            raise StepFailed(f"docker compose {' '.join(args)} exited {result.returncode}: "
                             f"{(result.stderr or result.stdout).strip()[-1500:]}")
        return result

    def env(self) -> dict[str, str]:
        return read_env(self.project / ".env")

    def containers(self) -> dict[str, Any]:
        """service -> its container, as the engine reports it."""
        found = self.engine.client.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.name}"})
        return {c.labels.get("com.docker.compose.service"): c for c in found}

    def published_ports(self) -> list[tuple[str, int, str]]:
        env = self.env()
        return [(address or "0.0.0.0", int(env.get(port.env, host)), port.protocol)
                for component in self.stack.components for port, host, address in self.stack.published(component.name)]

    # --- stages ---------------------------------------------------------------------------------------------

    def prepare(self) -> bool:
        """No leftover of an earlier run under this project name, and every host port free."""
        with self.report.timed("nothing else uses the project name and ports") as outcome:
            if self.containers():
                if self.engine.uses_standins:  # the harness's own engine: a crashed run's leftovers
                    self.compose("--profile", "jobs", "down", "--volumes", "--remove-orphans", "--rmi", "local")
                else:
                    raise StepFailed(f"containers of a compose project named {self.name} exist in this engine: "
                                     "choose another project_slug in the answers, or remove them yourself")
            busy = [f"{address}:{port}/{protocol}" for address, port, protocol in self.published_ports()
                    if not port_free(address, port, protocol)]
            if busy:
                raise StepFailed(f"in use on this machine: {', '.join(busy)}; set host_port_offset in the answers "
                                 "(e.g. 20000) to move every host port")
        return outcome["ok"]

    def up(self, build: bool = True, wait_timeout: int = WAIT_TIMEOUT) -> bool:
        if build:
            with self.report.timed("build") as outcome:
                self.compose("--profile", "jobs", "build", timeout=BUILD_TIMEOUT)  # the jobs' images too
            if not outcome["ok"]:
                return False
        with self.report.timed("up --wait") as outcome:
            self.compose("up", "--detach", "--wait", "--wait-timeout", str(wait_timeout), "--remove-orphans",
                         timeout=wait_timeout + 120)
        return self.healthy() and outcome["ok"]

    def healthy(self) -> bool:
        """Every service of the stack runs, and is healthy where it has a healthcheck."""
        containers = self.containers()
        ok = True
        # the components that serve, each of its processes too (a job is run by make pipeline; a component with
        # no container is a file its consumers mount)
        for service in self.stack.services:
            container = containers.get(service)
            state = container.attrs["State"] if container else {}
            health = (state.get("Health") or {}).get("Status", "no healthcheck")
            running = state.get("Status") == "running"
            good = running and health in ("healthy", "no healthcheck")
            detail = "" if good else f"{state.get('Status', 'no container')}, {health}"
            ok &= self.report.add("running and healthy", service, good, 0.0, detail)
        return ok

    def smoke(self) -> bool:
        with self.report.timed("make smoke (every published endpoint)") as outcome:
            result = subprocess.run(["make", "--no-print-directory", "smoke", f"STACK_PYTHON={sys.executable}"],
                                    cwd=self.project, capture_output=True, text=True, timeout=120)
            if result.returncode:
                outcome.update(ok=False, detail=(result.stdout + result.stderr).strip()[-1500:])
        return outcome["ok"]

    def trip_rank(self, component: Component) -> int:
        """When its round trips run: the services first, then the jobs in make pipeline's order (a job reads what the
        one before it wrote), then an orchestrator's, which runs the jobs again, then a service's that reads what the
        jobs made (a BI tool's chart over the marts)."""
        if component.job:
            return 1
        if component.runs_jobs:
            return 2
        return 3 if any(self.stack.component(edge.provider).job for edge in self.stack.wiring(component.name)) else 0

    def round_trips(self, phases: tuple[str, ...] = ("write", "read"), label: str = "") -> bool:
        ok = True
        order = {name: i for i, name in enumerate(self.stack.jobs)}
        for component in sorted(self.stack.components, key=lambda c: (self.trip_rank(c), order.get(c.name, 0))):
            for trip in component.round_trips:
                if "when" in trip and not self.stack.consumes(component.name, trip["when"]):
                    continue
                key = f"{component.name}/{trip['name']}"
                if "write" not in phases and trip.get("write") and key not in self.tokens:
                    continue  # nothing was written to read back (the component joined the stack since)
                values = self.tokens.setdefault(key, {"token": secrets.token_hex(6)})
                # What a memory-only service held is gone after a restart, as it should be: written again.
                volatile = "write" not in phases and self.volatile(component, trip)
                check = f"{label}{'(memory only: written again) ' if volatile else ''}{trip['name']}"
                with self.report.timed(check, component.name) as outcome:
                    for phase in (("write", "read") if volatile else phases):
                        for step in trip.get(phase) or []:
                            self.step(component, step, values)
                ok &= outcome["ok"]
        return ok

    def volatile(self, component: Component, trip: dict[str, Any]) -> str:
        """Why the trip's data does not survive a restart: its component, or the provider of its `when`, keeps
        values in memory only (component.yml, `volatile`); "" when it must survive."""
        holders = [component, *(self.stack.providers(trip["when"]) if "when" in trip else [])]
        return next((c.volatile for c in holders if c.volatile), "")

    def restart(self) -> bool:
        """down (volumes kept) and up: every service healthy again, and every read finds what was written (what a
        memory-only service held is written again first)."""
        env_before = (self.project / ".env").read_bytes()
        with self.report.timed("down (volumes kept)"):
            self.compose("down")
        ok = self.up(build=False) and self.smoke()
        ok &= self.round_trips(("read",), label="after down + up: ")
        ok &= self.report.add(".env unchanged by the restart", "", (self.project / ".env").read_bytes() == env_before, 0)
        return ok

    def down(self) -> None:
        """Everything the run made goes: containers, networks, volumes, the images built for the project."""
        # with the jobs' profile: a volume only a job mounts is not in the project without it
        self.compose("--profile", "jobs", "down", "--volumes", "--remove-orphans", "--rmi", "local", "--timeout", "20",
                     check=False)

    # --- round trip steps -----------------------------------------------------------------------------------------

    def base_url(self, component: Component) -> str:
        endpoint = self.stack.http_endpoint(component.name)
        if endpoint is None:
            raise StepFailed(f"{component.name} is not reachable from the host: no published port, no proxy")
        variable, prefix = endpoint
        return f"http://127.0.0.1:{self.env()[variable]}{prefix}"

    def step(self, component: Component, step: dict[str, Any], values: dict[str, Any]) -> None:
        if "check" in step:  # at the provider: the steps it declares to show what this trip wrote
            for provider in self.stack.providers(step["check"]):
                for check in provider.provides[step["check"]]["check"]:
                    self.step(provider, check, values)
            return
        if "targets_up" in step:
            self.targets_up(component, step["targets_up"])
            return
        if "run" in step:  # a job: its container run to completion with these arguments
            command = fill(step["run"], values)
            result = self.compose("run", "--rm", "-T", component.name, *command, timeout=300, check=False)
            if result.returncode:
                raise StepFailed(f"run {' '.join(command)} exited {result.returncode}: "
                                 f"{(result.stderr or result.stdout).strip()[-500:]}")
            if "contains" in step and fill(step["contains"], values) not in result.stdout:
                raise StepFailed(f"run {' '.join(command)}: the output lacks {fill(step['contains'], values)!r}: "
                                 f"{result.stdout[-500:]!r}")
            return
        if "exec" in step:
            command = fill(step["exec"], values)
            # from: in the container of the provider of the trip's when (the component's image has no command)
            where = next((p.name for p in self.stack.providers(step["from"])), None) if "from" in step else component.name
            if where is None:
                raise StepFailed(f"exec {command[0]}: no provider of {step['from']} in the stack to run it in")
            result = self.compose("exec", "-T", where, *command, timeout=step.get("timeout", 120), check=False)
            if result.returncode:
                raise StepFailed(f"exec {command[0]} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}")
            body = result.stdout
            if "contains" in step and fill(step["contains"], values) not in body:
                raise StepFailed(f"exec {command[0]}: the output lacks {fill(step['contains'], values)!r}: {body[-500:]!r}")
            return
        method, path = fill(step["request"], values).split(" ", 1)
        url = self.base_url(component) + path
        if "repeat" not in step:
            self.answer(step, values, method, url)
            return
        # all at once, up to BURST_CLIENTS in parallel: a rate limit counts requests as they arrive, however long
        # each takes to answer

        def attempt(_: int) -> StepFailed | None:
            try:
                self.answer(step, values, method, url)
            except StepFailed as failed:
                return failed
            return None

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(BURST_CLIENTS, step["repeat"])) as pool:
            outcomes = list(pool.map(attempt, range(step["repeat"])))
        if all(outcomes):
            raise StepFailed(f"none of {step['repeat']} requests passed; the last: {outcomes[-1]}")

    def targets_up(self, component: Component, path: str, seconds: float = TARGETS_UP_SECONDS) -> None:
        """Every scrape target the stack gives `component` (host:port of each provider) is listed as up by its
        targets API, asked inside its container, after a scrape that began once this check had: the health of an
        earlier scrape may be that of a service stopped since. Within `seconds`."""
        port = component.http_port
        expected = {f"{t.service}:{t.port}" for t in self.stack.scrape_targets(component.name)}
        url = f"http://127.0.0.1:{port.container if port else 80}{path}"
        started = time.time()
        deadline, health = time.monotonic() + seconds, {}
        while True:
            result = self.compose("exec", "-T", component.name, "wget", "-q", "-O", "-", url, timeout=60, check=False)
            try:
                targets = json.loads(result.stdout)["data"]["activeTargets"]
                health = {t["labels"]["instance"]: (t["health"] if _epoch(t["lastScrape"]) >= started else
                                                    "not scraped since the check began", t.get("lastError", ""))
                          for t in targets}
            except (ValueError, KeyError, TypeError):
                health = {}
            if all(health.get(target, ("",))[0] == "up" for target in expected):
                return
            if time.monotonic() > deadline:
                lacking = {t: health.get(t, ("not a target", "")) for t in expected if health.get(t, ("",))[0] != "up"}
                raise StepFailed(f"targets not up after {seconds:.0f} s: {lacking}")
            time.sleep(3)

    def answer(self, step: dict[str, Any], values: dict[str, Any], method: str, url: str) -> None:
        """One request of a step, and the checks of its answer."""
        body: Any = fill(step.get("json"), values) if "json" in step else None
        if "body_size" in step:
            body = b"x" * step["body_size"]
        if "body" in step:
            body = fill(step["body"], values).encode()
        status, body, headers = http(method, url, body, timeout=step.get("timeout", REQUEST_TIMEOUT),
                                     headers=step.get("headers"))
        where = f"{method} {url}"
        for name, part in (step.get("expect_headers") or {}).items():
            if part not in (headers.get(name) or ""):
                raise StepFailed(f"{where}: its {name} header is {headers.get(name)!r}, without {part!r}")
        if status != step.get("status", 200):
            raise StepFailed(f"{where} answered {status}, not {step.get('status', 200)}: {body[:300]!r}")
        if "contains" in step and fill(step["contains"], values) not in body:
            raise StepFailed(f"{where}: the answer lacks {fill(step['contains'], values)!r}: {body[:300]!r}")
        if "expect" in step or "keep" in step:
            try:
                answer = json.loads(body)
            except ValueError:
                raise StepFailed(f"{where}: the answer is not JSON: {body[:300]!r}") from None
            expected = fill(step.get("expect", {}), values)
            if not contains(answer, expected):
                raise StepFailed(f"{where}: expected {expected}, got {answer}")
            for name, key in (step.get("keep") or {}).items():
                if not isinstance(answer, dict) or key not in answer:
                    raise StepFailed(f"{where}: the answer has no {key} to keep: {answer}")
                values[name] = answer[key]

    # --- when something failed ------------------------------------------------------------------------------------

    def diagnostics(self) -> str:
        """compose ps, and the last log lines of each service that is not running and healthy."""
        parts = [self.compose("ps", "--all", check=False, timeout=60).stdout]
        for service, container in sorted(self.containers().items()):
            container.reload()
            state = container.attrs["State"]
            if state.get("Status") != "running" or (state.get("Health") or {}).get("Status") not in (None, "healthy"):
                logs = self.compose("logs", "--no-color", "--tail", str(LOG_LINES), service, check=False, timeout=60)
                parts.append(f"--- last {LOG_LINES} log lines of {service}\n{logs.stdout}{logs.stderr}")
        return "\n".join(parts)


# --- helpers ----------------------------------------------------------------------------------------------------

def _epoch(timestamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 time as Prometheus writes it (nanoseconds, Z or an offset)."""
    stamp = re.sub(r"(\.\d{1,6})\d*", r"\1", timestamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def fill(value: Any, values: dict[str, Any]) -> Any:
    """`value` with each {name} replaced by what the round trip kept under that name."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                raise StepFailed(f"{{{match.group(1)}}} is not kept by an earlier step")
            return str(values[match.group(1)])
        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    return value


def contains(answer: Any, expected: Any) -> bool:
    """Whether the JSON `answer` holds `expected`: the same value, or for a mapping, at least its keys alike."""
    if isinstance(expected, dict):
        return isinstance(answer, dict) and all(k in answer and contains(answer[k], v) for k, v in expected.items())
    return answer == expected or (isinstance(answer, (int, float)) and str(answer) == str(expected))


def http(method: str, url: str, body: Any = None, timeout: float = REQUEST_TIMEOUT,
         headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    """(status, body, response headers) of one request."""
    if isinstance(body, bytes):
        return _upload(method, url, body, timeout, headers or {})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Accept": "application/json", **(headers or {})})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace"), error.headers
    except (urllib.error.URLError, OSError) as error:
        raise StepFailed(f"{method} {url}: {getattr(error, 'reason', error)}") from None


def _upload(method: str, url: str, body: bytes, timeout: float, headers: dict[str, str]) -> tuple[int, str, Any]:
    """A request with a raw body, whose answer is read even when the server answers before the body is sent and
    closes the connection (a body beyond an upload limit: 413)."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        for name, value in {"Content-Type": "application/octet-stream", "Content-Length": str(len(body)),
                            **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            connection.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered already
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response.headers
    except (HTTPException, OSError) as error:
        raise StepFailed(f"{method} {url} with a body of {len(body)} bytes: {error}") from None
    finally:
        connection.close()


def port_free(address: str, port: int, protocol: str = "tcp") -> bool:
    """Nothing of this machine listens on (address, port) for `protocol` (a udp port is busy only for a UDP bind)."""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def stand_ins(engine: Engine, report: Report) -> bool:
    """Where the engine cannot pull: the base and each pinned image's stand-in, built or found cached."""
    if not engine.uses_standins:
        return True
    try:
        for built in build_standins(engine, engine.pinned_images):
            report.add(f"stand-in {built.image}", "", True, built.seconds, "cached" if built.cached else "built")
    except EngineError as error:
        return report.add("stand-ins", "", False, 0, str(error))
    return True


def pinned_images(catalog: Catalog) -> list[str]:
    """Every image a generated project runs or builds from."""
    return list(dict.fromkeys(image for c in catalog.components.values() for image in (c.image, c.build_image) if image))


def run_stack(engine: Engine, answers: dict[str, Any], workdir: Path, report: Report) -> Report:
    """The whole run for one answers file (see the module's docstring), rows added to `report`."""
    with report.timed("generate the project") as outcome:
        try:
            # copier copy --trust --defaults --data-file <answers>, of this working tree
            project = copy_project(workdir / str(answers.get("project_slug") or "stack"), answers)
        except Exception as error:  # noqa: BLE001 - copier's own message is the detail
            raise StepFailed(f"copier copy failed: {error}") from None
    if not outcome["ok"]:
        return report
    run = StackRun(engine, project, report)
    if not run.prepare():
        return report
    try:
        ok = run.up() and run.smoke()
        ok = run.round_trips() and ok
        if ok:
            ok = run.restart()
        if not ok:
            report.diagnostics.append(run.diagnostics())
    finally:
        run.down()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", required=True, type=Path, help="a YAML answers file, as copier's --data-file")
    parser.add_argument("--keep", type=Path, help="generate the project here and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        answers = yaml.safe_load(args.answers.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        print(f"run-stack: cannot read the answers file {args.answers}: {error}", file=sys.stderr)
        return 2
    if not isinstance(answers, dict):
        print(f"run-stack: {args.answers} must be a YAML mapping of questions to answers, e.g. database: postgres",
              file=sys.stderr)
        return 2
    report = Report(echo=lambda line: print(line, flush=True))
    try:
        with open_engine(pinned_images(CATALOG)) as engine:
            where = "a private dockerd, stand-in images" if engine.uses_standins else "this machine's Docker, real images"
            print(f"engine: {where}", flush=True)
            if stand_ins(engine, report):
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    run_stack(engine, answers, args.keep, report)
                else:
                    with tempfile.TemporaryDirectory(prefix="run-stack-") as workdir:
                        run_stack(engine, answers, Path(workdir), report)
    except EngineError as error:
        report.add("container engine", "", False, 0, str(error))
    for diagnostics in report.diagnostics:
        print(diagnostics)
    print(report.summary())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
