"""Every generated stack really runs: in a container engine (tests/engine/), a cover set of stacks from the
catalog comes up healthy, passes its round trips through the proxy, and keeps its data and passwords across
down + up; a running project takes `copier update` adding and removing components without losing data; and the
stack heals from a stopped database and from killed processes.

This module runs in one xdist worker (make test distributes by module: its tests share one engine and the
host's ports), first, while the other worker runs the rest of the suite.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from engine.engine import Engine, EngineError, open_engine
from engine.run_stack import Report, StackRun, contains, http, pinned_images, port_free, run_stack, stand_ins
from engine.standins import STANDIN_FILE, STANDINS, all_standins, missing_standins, standin_folder
from projects import (
    CATALOG, DEFAULTS, answers_for, commit_all, copier, copy_project, git, is_valid, new_template_repo, release,
    with_requirements,
)

from extensions.catalog import NONE
from extensions.stack import Edge, Stack

pytestmark = pytest.mark.engine  # conftest.py runs this module first
RECOVERY_SECONDS = 90
ALERT_SECONDS = 180  # a rule's `for: 1m`, plus scrapes and evaluations every 15 s, with room for a slow machine


def cover_stacks() -> dict[str, dict[str, Any]]:
    """Few stacks that together run every component, every wiring the catalog allows (each consumer with each
    provider of what it uses or routes), every HTTP service both through a proxy and on its own port, and
    published datastores with a port offset: from the catalog, so a new component is run at once."""
    routers = [c.name for c in CATALOG.components.values() if c.routes]
    stacks = {
        "defaults": answers_for(list(DEFAULTS.values()), project_name="Engine Defaults"),
        "unrouted-published-offset": answers_for([n for n in DEFAULTS.values() if n not in routers],
                                                 project_name="Engine Direct", publish_datastores=True,
                                                 host_port_offset=20000),
    }
    covered = {edge for a in stacks.values() for edge in _edges(a)}
    used = {cap for c in CATALOG.components.values() for cap in c.wants}
    riders = [{c.category: c.name} for c in CATALOG.components.values()
              if CATALOG.categories[c.category].default == NONE and c.requirements
              and not used & set(c.provides) and c.name not in WATCHING and not c.job and not c.runs_jobs
              and not any(p.job for capability in c.wants for p in CATALOG.providers(capability))]
    for consumer in CATALOG.components.values():
        for capability in consumer.wants:
            for provider in CATALOG.providers(capability):
                if (consumer.name, capability, provider.name) in covered or {consumer.name, provider.name} & WATCHING:
                    continue
                chosen = {**DEFAULTS, consumer.category: consumer.name, provider.category: provider.name}
                # With a worker where it fits: it runs along at little cost, its wiring and what it requires (Redis
                # as the broker on demand) included, and changes no other wiring, providing nothing they use. Not a
                # job (a pipeline step) nor an orchestrator of the jobs: their images are built for each stack they
                # run in (the orchestrator's with every job's venv), so each runs in one; nor a reader of what the
                # jobs make (a BI tool), which would bring them along.
                candidates = [with_requirements(list({**chosen, **extra}.values())) for extra in [*riders, {}]]
                names = next((n for n in candidates if is_valid(n) and Edge(consumer.name, provider.name, capability)
                              in Stack(CATALOG, answers_for(n)).edges), None)
                if names is None:
                    continue
                names = _cover_more(names, Edge(consumer.name, provider.name, capability), covered)
                answers = answers_for(names, project_name=f"Engine {consumer.name} {provider.name}")
                stacks[f"{consumer.name}-{provider.name}"] = answers
                covered |= _edges(answers)
    # The watchers join the stacks where they watch something not watched yet: their wiring covered at the cost of
    # a few small containers, never a stack of their own; each only where it adds wiring of its own.
    asked = [n for n in WATCHING if CATALOG.components[n].category in CATALOG.questions]
    for key, answers in stacks.items():
        names = [n for n in Stack(CATALOG, answers).names if CATALOG.components[n].category in CATALOG.questions]
        extra = {k: v for k, v in answers.items() if k not in CATALOG.questions}
        joining = [w for w in asked if w not in names]
        new = _edges(answers_for([*names, *joining], **extra)) - covered - _edges(answers)
        if not (is_valid(with_requirements([*names, *joining])) and new):
            continue
        for watcher in reversed(list(joining)):  # the last asked first: the ones the others need stay
            fewer = [w for w in joining if w != watcher]
            if is_valid(with_requirements([*names, *fewer])) and \
                    _edges(answers_for([*names, *fewer], **extra)) - covered - _edges(answers) == new:
                joining = fewer
        stacks[key] = answers_for([*names, *joining], **extra)
        covered |= _edges(stacks[key])
    # each HTTP service on its own port too, several at once: a page calls its API across origins there
    direct = [c for c in CATALOG.components.values() if c.http_port and not c.routes]
    unrouted = {n for a in stacks.values() for n in Stack(CATALOG, a).names if not Stack(CATALOG, a).routed_by(n)}
    while missing := [c for c in direct if c.name not in unrouted]:
        picked: dict[str, str] = {}
        for component in missing:  # one per category at a time
            picked.setdefault(component.category, component.name)
        names = with_requirements(list({**{k: v for k, v in DEFAULTS.items() if v not in routers}, **picked}.values()))
        answers = answers_for(names, project_name=f"Engine Direct {len(stacks)}")
        reached = {n for n in names if not Stack(CATALOG, answers).routed_by(n)}
        assert reached & set(picked.values()), f"{sorted(picked.values())}: no valid stack serves them unrouted"
        stacks["unrouted-" + "-".join(picked.values())] = answers
        unrouted |= reached
    for component in CATALOG.components.values():  # anything the rules above left out (nothing wired to it)
        if not any(component.name in Stack(CATALOG, a).names for a in stacks.values()):
            names = with_requirements([component.name])
            stacks[f"with-{component.name}"] = answers_for(names, project_name=f"Engine {component.name}")
    return stacks


def watching() -> set[str]:
    """The components that watch the others: the category of those that scrape (Prometheus's: Alertmanager, Grafana,
    the log store and its collector beside it) and those that join by themselves for them (the exporters). They ride
    along in the cover stacks."""
    categories = {c.category for c in CATALOG.components.values() if c.scrapes}
    return {c.name for c in CATALOG.components.values() if c.category in categories} | \
        {c.name for c in CATALOG.automatic()}


WATCHING = watching()


def _edges(stack: list[str] | dict[str, Any]) -> set[tuple[str, str, str]]:
    """(consumer, capability, provider) of each wiring of a stack, given by its component names or its answers."""
    answers = stack if isinstance(stack, dict) else answers_for(stack)
    return {(e.consumer, e.capability, e.provider) for e in Stack(CATALOG, answers).edges}


def _cover_more(names: list[str], edge: Edge, covered: set[tuple[str, str, str]]) -> list[str]:
    """`names`, with the choice of each category other than the edge's two swapped, one at a time, for the one
    whose stack still has `edge` and covers the most edges not covered yet: fewer stacks for the same cover."""
    fixed = {CATALOG.components[edge.consumer].category, CATALOG.components[edge.provider].category}
    for category in CATALOG.questions:
        if category in fixed:
            continue
        current = [n for n in names if CATALOG.components[n].category != category]
        options = [names] + [with_requirements([*current, c.name]) for c in CATALOG.in_category(category)]
        wanted = (edge.consumer, edge.capability, edge.provider)
        edges = {tuple(n): _edges(n) for n in options if is_valid(n)}  # each candidate's wirings, computed once
        usable = [n for n in options if wanted in edges.get(tuple(n), ())]
        # the first of the best: `names` on a tie; the watchers' wiring is left to them (see cover_stacks)
        names = max(usable, key=lambda n: len({e for e in edges[tuple(n)] - covered if not {e[0], e[2]} & WATCHING}))
    return names


COVER = cover_stacks()


def on_free_ports(answers: dict[str, Any]) -> dict[str, Any]:
    """`answers`, with a host_port_offset under which every host port of the stack is free on this machine: its
    own first, then 10000, 20000, ... A developer's nginx on port 80, or another run's stack, is no fault of the
    template; a run that needs moving says so on stderr."""
    own = int(answers.get("host_port_offset") or 0)
    for offset in [own, *(o for o in range(10000, 50001, 10000) if o != own)]:
        moved = {**answers, "host_port_offset": offset}
        stack = Stack(CATALOG, moved)
        if all(port_free(address or "0.0.0.0", host, port.protocol)
               for c in stack.components for port, host, address in stack.published(c.name)):
            if offset != own:
                print(f"{answers.get('project_name')}: host ports in use here, run with host_port_offset={offset}",
                      file=sys.stderr)
            return moved
    raise AssertionError(f"{answers.get('project_name')}: no host_port_offset up to 50000 leaves its ports free")


# --- stand-ins: from the catalog, no engine needed -----------------------------------------------------------------

def test_every_pinned_image_has_a_standin_and_every_standin_a_pinned_image() -> None:
    pinned = pinned_images(CATALOG)
    assert not missing_standins(pinned), f"add a stand-in folder for each of {missing_standins(pinned)}"
    standins = all_standins()
    assert sorted(standins) == sorted(pinned), "a stand-in whose image the catalog no longer pins: remove its folder"
    for image, folder in standins.items():
        assert folder == standin_folder(image), f"{folder}/{STANDIN_FILE} names {image}: move it to {standin_folder(image)}"
        spec = yaml.safe_load((folder / STANDIN_FILE).read_text())
        assert spec["compromises"], f"{folder}/{STANDIN_FILE}: list what differs from the real image"
        dockerfile = (folder / "Dockerfile").read_text()
        assert re.match(r"(#[^\n]*\n)*ARG BASE\nFROM \$\{BASE\}", dockerfile), f"{folder}/Dockerfile must build FROM ${{BASE}}"
        copied = {source for line in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", dockerfile, re.M)
                  for source in line.split()[:-1]}
        extra = {p.name for p in folder.iterdir()} - {"Dockerfile", STANDIN_FILE} - copied
        assert not extra, f"{folder}: files the Dockerfile never copies: {sorted(extra)}"


def test_readme_lists_every_standin_image() -> None:
    """The README's table of stand-ins and their compromises has a row per stand-in folder, and no other."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("| Image | Compromises of its stand-in |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    assert sorted(re.findall(r"^\| `([^`]+)` \|", table, re.M)) == sorted(all_standins())


def test_standin_scripts_pass_shellcheck() -> None:
    scripts = sorted(p for p in STANDINS.rglob("*") if p.is_file() and p.read_bytes().startswith(b"#!/bin/sh"))
    assert scripts
    result = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(os.access(script, os.X_OK) for script in scripts)


def test_cover_set_runs_every_component_and_reaches_each_http_service_both_ways() -> None:
    stacks = [Stack(CATALOG, answers) for answers in COVER.values()]
    assert {name for stack in stacks for name in stack.names} == set(CATALOG.components)
    for component in CATALOG.components.values():
        if component.http_port and any(component.name in s.names for s in stacks if s.routed_by(component.name)):
            assert any(s.http_endpoint(component.name) == (component.http_port.env, "") for s in stacks
                       if component.name in s.names), component.name
    assert any(s.publish_datastores and s.offset for s in stacks)


# --- the engine ----------------------------------------------------------------------------------------------------

STANDIN_REPORT = Report()


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """The machine's engine with real images, or a private one with the stand-ins built (see tests/engine/)."""
    try:
        with open_engine(pinned_images(CATALOG)) as opened:
            if not stand_ins(opened, STANDIN_REPORT):
                pytest.fail(STANDIN_REPORT.table(), pytrace=False)
            yield opened
    except EngineError as error:
        pytest.fail(f"no container engine: {error}", pytrace=False)


def assert_passed(report: Report, run: StackRun | None = None) -> None:
    details = "\n".join(report.diagnostics) or (run.diagnostics() if run and report.failed else "")
    assert report.failed == 0, f"{report.table()}\n{report.summary()}\n{details}"


@pytest.mark.parametrize("name", list(COVER))
def test_stack_runs_its_round_trips_and_survives_a_restart(name: str, engine: Engine, tmp_path: Path,
                                                           record_property: Callable[[str, Any], None]) -> None:
    report = run_stack(engine, on_free_ports(COVER[name]), tmp_path, Report())
    assert_passed(report)
    stack = Stack(CATALOG, COVER[name])
    checked = {row.service for row in report.rows if row.check.startswith("after down + up: ")}
    assert checked == {c.name for c in stack.components if c.round_trips}, "each component's reads ran after the restart"
    # one with no container (DuckDB's file) is shown by the round trips of each consumer of what it provides
    assert all(c.round_trips if c.service else all(consumer.round_trips for cap in c.provides
                                                   for consumer in CATALOG.components.values() if cap in consumer.wants)
               for c in CATALOG.components.values()), "every component declares round trips"
    # shown at the end of the run by conftest.py
    ups = " then ".join(f"{r.seconds:.0f} s" for r in report.rows if r.check == "up --wait")
    record_property("engine_times", f"build {report.seconds('build'):.0f} s, up --wait {ups}")
    if name == next(iter(COVER)):
        for row in STANDIN_REPORT.rows:
            record_property("engine_times", f"{row.check}: {row.seconds:.0f} s ({row.detail})")


# --- a running project through copier update ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def template_release(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = new_template_repo(tmp_path_factory.mktemp("template") / "stacks")
    release(repo, "99.0.0", files_from=Path(__file__).resolve().parents[1])
    return str(repo)


def update(project: Path, *data: str) -> subprocess.CompletedProcess:
    result = copier("update", "--trust", "--defaults", *(arg for d in data for arg in ("-d", d)), cwd=project)
    assert "both modified" not in git(project, "status"), git(project, "status")
    commit_all(project, f"update {' '.join(data)}")
    return result


def test_running_project_keeps_its_data_through_updates(engine: Engine, template_release: str, tmp_path: Path) -> None:
    """copier update adds the cache to a running project, then removes the database and adds it back: each time
    `up` brings the stack back, and the item written first is still read, through the password .env kept."""
    project = tmp_path / "shop"
    offset = on_free_ports({"project_name": "Engine Lifecycle", **DEFAULTS, "backend": "fastapi", "database": "postgres",
                            "cache": "redis", "frontend": "none", "proxy": "none"})["host_port_offset"]
    answers = ["project_name=Engine Lifecycle", "backend=fastapi", "database=postgres", "cache=none", "frontend=none",
               "proxy=none", f"host_port_offset={offset}"]
    copier("copy", "--trust", "--defaults", "--vcs-ref=99.0.0", *(arg for a in answers for arg in ("-d", a)),
           template_release, str(project))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated")
    report = Report()
    run = StackRun(engine, project, report)
    try:
        assert run.prepare() and run.up() and run.round_trips(), report.table() + run.diagnostics()
        first = copy.deepcopy(run.tokens)  # the item written before any update

        update(project, "cache=redis")
        run = StackRun(engine, project, report)
        run.tokens = copy.deepcopy(first)
        assert run.up() and run.round_trips(("read",), label="after adding the cache: "), report.table()
        assert run.round_trips(), report.table() + run.diagnostics()
        assert any(row.check == "a cached value is read back" and row.ok for row in report.rows)

        removed = update(project, "database=none")
        assert "kept the data volume engine-lifecycle_postgres-data" in removed.stderr, removed.stderr
        run = StackRun(engine, project, report)
        assert run.up() and run.round_trips() and "postgres" not in run.containers(), report.table()

        restored = update(project, "database=postgres")
        assert "restored POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD" in restored.stderr, restored.stderr
        run = StackRun(engine, project, report)
        run.tokens = copy.deepcopy(first)
        assert run.up() and run.round_trips(("read",), label="after the database came back: "), report.table()
        assert any(row.check == "after the database came back: an item written is read back" for row in report.rows)
        assert_passed(report, run)
    finally:
        run.down()


# --- backups -------------------------------------------------------------------------------------------------------

def backup_stacks() -> dict[str, list[str]]:
    """Few stacks that between them hold every component with a backup (component.yml, `backup`): each joins the
    first stack it can, with what it requires."""
    def fits(names: list[str]) -> bool:  # one choice per category that takes one
        single = [CATALOG.components[n].category for n in names
                  if not CATALOG.categories[CATALOG.components[n].category].multiselect]
        return len(single) == len(set(single)) and is_valid(names)

    stacks: list[list[str]] = []
    for component in (c for c in CATALOG.components.values() if c.backup):
        index = next((i for i, names in enumerate(stacks) if fits(with_requirements([*names, component.name]))), None)
        if index is None:
            stacks.append(with_requirements([component.name]))
        else:
            stacks[index] = with_requirements([*stacks[index], component.name])
    return {"-".join(n for n in names if CATALOG.components[n].backup): names for names in stacks}


BACKUP_STACKS = backup_stacks()


def make(run: StackRun, *arguments: str) -> subprocess.CompletedProcess:
    """make in the project, with docker compose and the environment of the harness's engine."""
    return subprocess.run(["make", "--no-print-directory", *arguments, f"COMPOSE={run.engine.compose[0]}",
                           f"STACK_PYTHON={sys.executable}"], cwd=run.project, env=run.engine.environment(),
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.parametrize("name", list(BACKUP_STACKS))
def test_make_restore_brings_back_what_make_backup_saved_after_the_volumes_are_gone(
        name: str, engine: Engine, tmp_path: Path) -> None:
    """Round trips write, make backup, down --volumes (every datastore empty), up, make restore: every read finds
    what was written before the backup, through the passwords .env kept."""
    answers = on_free_ports(answers_for(BACKUP_STACKS[name], project_name=f"Engine Backup {name}"))
    project = copy_project(tmp_path / "project", answers)
    report = Report()
    run = StackRun(engine, project, report)
    try:
        assert run.prepare() and run.up() and run.round_trips(), report.table() + run.diagnostics()
        saved = make(run, "backup")
        assert saved.returncode == 0, saved.stdout + saved.stderr
        [folder] = (project / "backups").iterdir()
        files = {c.backup["file"] for c in run.stack.components if c.backup}
        assert {p.name for p in folder.iterdir()} == files | {"SHA256SUMS"}, saved.stderr

        run.compose("down", "--volumes", "--timeout", "20")
        assert run.up(build=False), report.table() + run.diagnostics()
        restored = make(run, "restore")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert f"restored {' '.join(c.name for c in run.stack.components if c.backup)} from backups/{folder.name}" \
            in restored.stderr, restored.stderr
        assert run.healthy() and run.round_trips(("read",), label="after make restore: "), \
            report.table() + run.diagnostics()
        assert_passed(report, run)
    finally:
        run.down()


# --- faults -------------------------------------------------------------------------------------------------------

def faults_stack() -> dict[str, Any]:
    """The default stack watched: with every component that scrapes it and what they send alerts to."""
    watchers = [c.name for c in CATALOG.components.values() if c.scrapes]
    alerting = [p.name for w in watchers for cap in CATALOG.components[w].uses for p in CATALOG.providers(cap)]
    names = with_requirements([*DEFAULTS.values(), *watchers, *alerting])
    assert is_valid(names), names
    return answers_for(names, project_name="Engine Faults")


FAULTS = faults_stack()


@pytest.fixture(scope="module")
def running_defaults(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRun]:
    answers = on_free_ports(FAULTS)
    project = copy_project(tmp_path_factory.mktemp("faults") / "faults", answers)
    report = Report()
    run = StackRun(engine, project, report)
    try:
        assert run.prepare() and run.up(), report.table() + run.diagnostics()
        yield run
    finally:
        run.down()


def wait_for(condition: Callable[[], Any], what: str, seconds: float = RECOVERY_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"{what}: not within {seconds} s")


def health_answer(run: StackRun, name: str) -> tuple[int, Any]:
    component = CATALOG.components[name]
    status, body, _ = http("GET", run.base_url(component) + component.http_port.http)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def outages(stack: Stack) -> list[tuple[str, str, str]]:
    """(consumer, provider, name in the consumer's health answer) for each dependency a health endpoint reports."""
    return [(c.name, edge.provider, c.health_checks[edge.capability])
            for c in stack.components for edge in stack.wiring(c.name) if edge.capability in c.health_checks]


def test_health_reports_a_stopped_dependency_and_recovers_by_itself(running_defaults: StackRun) -> None:
    run = running_defaults
    cases = outages(run.stack)
    assert {(consumer, check) for consumer, _, check in cases} >= {("fastapi", "database"), ("fastapi", "cache")}
    for consumer, provider, check in cases:
        started = run.containers()[consumer].attrs["State"]["StartedAt"]

        def answer_when(status: int, consumer: str = consumer) -> Any:
            answered, answer = health_answer(run, consumer)
            return answer if answered == status else None

        run.compose("stop", provider)
        try:
            answer = wait_for(lambda: answer_when(503), f"{consumer}'s health to turn 503 with {provider} stopped", 30)
            assert contains(answer, {"status": "degraded", "checks": {check: {"status": "down"}}}), answer
        finally:
            run.compose("start", provider)
        wait_for(lambda: answer_when(200), f"{consumer}'s health to recover once {provider} is back")
        assert run.containers()[consumer].attrs["State"]["StartedAt"] == started, f"{consumer} was restarted"
    wait_for(lambda: all((c.attrs["State"].get("Health") or {}).get("Status", "healthy") == "healthy"
                         for c in run.containers().values()), "every service healthy again")


def alerts_at(run: StackRun, manager: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager `manager` holds (its API, asked inside its container)."""
    port = CATALOG.components[manager].provides["alert-routing"]["port"]
    result = run.compose("exec", "-T", manager, "wget", "-q", "-O", "-", f"http://127.0.0.1:{port}/api/v2/alerts",
                         check=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return []


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """An HTTP server on this host, on every interface (the stack's containers reach it at their network's
    gateway): (its port, the JSON bodies POSTed to it so far)."""
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", 0), Receiver)  # the containers reach it at their gateway
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def test_a_stopped_service_fires_its_exporters_alert_to_alertmanager_and_it_resolves(running_defaults: StackRun) -> None:
    """Each service whose exporter joined the stack (the datastores, the proxy): stopped, the alert its exporter's
    rules fire reaches Alertmanager within ALERT_SECONDS (a rule's minute, scrapes and evaluations every 15 s), and
    Alertmanager posts it to the webhook set in .env as the generated README says (ALERTMANAGER_WEBHOOK_URL, then
    up --detach); started again, the alert resolves. All at once, as a host that loses its disk would."""
    run = running_defaults
    managers = [p.name for p in run.stack.providers("alert-routing")]
    watched = [(edge.consumer, edge.provider) for c in run.stack.components if c.category not in CATALOG.questions
               for edge in run.stack.wiring(c.name)]
    assert managers and watched, "the faults stack has an Alertmanager and an exporter"
    manager = managers[0]

    def firing(exporter: str) -> list[dict[str, Any]]:
        return [a for a in alerts_at(run, manager) if a["labels"].get("job") == exporter
                and a["status"]["state"] == "active"]

    def posted(exporter: str) -> list[dict[str, Any]]:
        return [a for body in received for a in body.get("alerts", []) if a["labels"].get("job") == exporter
                and a["status"] == "firing"]

    assert not [e for e, _ in watched if firing(e)], "no alert before anything is stopped"
    with webhook_receiver() as (port, received):
        networks = run.containers()[manager].attrs["NetworkSettings"]["Networks"]
        gateway = next(n["Gateway"] for n in networks.values() if n.get("Gateway"))
        env_file = run.project / ".env"
        env_file.write_text(re.sub(r"(?m)^ALERTMANAGER_WEBHOOK_URL=.*$",
                                   f"ALERTMANAGER_WEBHOOK_URL=http://{gateway}:{port}/alerts", env_file.read_text()))
        run.compose("up", "--detach", "--wait", "--no-deps", manager)
        run.compose("stop", *(datastore for _, datastore in watched))
        try:
            for exporter, datastore in watched:
                alerts = wait_for(lambda exporter=exporter: firing(exporter),
                                  f"an alert from {exporter} in {manager} with {datastore} stopped", ALERT_SECONDS)
                assert all(a["labels"]["severity"] == "critical" for a in alerts), alerts
            for exporter, datastore in watched:  # group_wait is 10 s: each alert's group is posted soon after
                wait_for(lambda exporter=exporter: posted(exporter),
                         f"{manager} to post the alert from {exporter} to the webhook at {gateway}:{port} (this "
                         "host, as the stack's containers reach it)", 60)
            assert all(body["receiver"] == "stack" and body["status"] == "firing" for body in received), received
        finally:
            run.compose("start", *(datastore for _, datastore in watched))
    for exporter, datastore in watched:
        wait_for(lambda exporter=exporter: not firing(exporter),
                 f"the alert from {exporter} to resolve once {datastore} is back", ALERT_SECONDS)


@pytest.mark.parametrize("service", [c.name for c in Stack(CATALOG, FAULTS).components])
def test_killed_main_process_is_restarted_healthy(service: str, running_defaults: StackRun) -> None:
    run = running_defaults
    if os.geteuid() != 0 or not run.engine.uses_standins:
        pytest.fail("killing a container's main process needs root on the engine's own host (the private engine)",
                    pytrace=False)
    container = run.containers()[service]
    restarts = container.attrs["RestartCount"]
    os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)

    def back() -> bool:
        container.reload()
        state = container.attrs["State"]
        return (container.attrs["RestartCount"] > restarts and state["Status"] == "running"
                and (state.get("Health") or {}).get("Status", "healthy") == "healthy")

    wait_for(back, f"{service} to be restarted by its restart policy and healthy")
    assert run.smoke() and run.round_trips(("read",), label=f"after {service} was killed: "), run.report.table()


def test_make_deploy_rolls_back_when_the_new_build_does_not_start(running_defaults: StackRun) -> None:
    """A change that builds but crashes at start (an exception at import): make deploy builds it, sees the stack
    not become healthy, gives the image that ran its name back and fails saying so; the stack runs that image
    again, healthy, its data there. Mended, the next make deploy passes."""
    run = running_defaults
    main = run.project / "services" / "fastapi" / "app" / "main.py"
    mended = main.read_text()
    before = run.containers()["fastapi"].image.id
    main.write_text('raise RuntimeError("a deliberately broken build")\n' + mended)
    try:
        broken = make(run, "deploy", "DEPLOY_WAIT=90")
    finally:
        main.write_text(mended)
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert "rolled back: the stack runs the previous images again, healthy, and make smoke passes" in broken.stderr, \
        broken.stdout + broken.stderr
    assert run.containers()["fastapi"].image.id == before
    assert run.healthy() and run.smoke() and run.round_trips(("read",), label="after the rollback: "), \
        run.report.table() + run.diagnostics()
    deployed = make(run, "deploy")
    assert deployed.returncode == 0 and "deployed: every service is healthy" in deployed.stderr, \
        deployed.stdout + deployed.stderr


# --- how a failure is reported -----------------------------------------------------------------------------------

def test_a_stack_that_does_not_become_healthy_is_reported_with_ps_and_logs(engine: Engine, tmp_path: Path) -> None:
    names = with_requirements(["react"])
    project = copy_project(tmp_path / "broken", on_free_ports(answers_for(names, project_name="Engine Broken")))
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace("http://127.0.0.1:8080/healthz", "http://127.0.0.1:9/healthz"))
    report = Report()
    run = StackRun(engine, project, report)
    try:
        assert run.prepare()
        assert not run.up(wait_timeout=20)
        assert report.failed and any(row.check == "running and healthy" and not row.ok for row in report.rows)
        diagnostics = run.diagnostics()
        assert "engine-broken-react-1" in diagnostics  # compose ps
        assert f"--- last 40 log lines of {names[0]}" in diagnostics
    finally:
        run.down()


def test_run_stack_command_exits_non_zero_with_the_count(engine: Engine, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from engine.run_stack import main

    answers = tmp_path / "answers.yml"
    answers.write_text("database: nosuchdb\n")
    assert main(["--answers", str(answers)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^generate the project\s+FAILED", out, re.M) and "'nosuchdb' is not in" in out
    assert re.search(r"^\d+ passed, 1 failed$", out, re.M)
    answers.write_text("- not a mapping\n")
    assert main(["--answers", str(answers)]) == 2
