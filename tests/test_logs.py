"""Centralised logs. Loki keeps every service's output, which Docker's gelf log driver sends to Alloy over UDP on
127.0.0.1 (no Docker socket, no host mount, Alloy as its image's user 473), labelled by compose service; Grafana gets
a Loki datasource and a Logs dashboard where it is in the stack. Loki's and Alloy's configurations pass what can be
checked here: the stand-ins' own checks, a subset, not Loki's or Alloy's validator (neither binary is installable
here). No posture exception and no compose-lint exclusion is needed."""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from projects import CATALOG, REPO, answers_for, commit_all, compose_config, copier, copy_project, new_template_repo, release
from test_catalog import _catalog_copy
from test_posture import tool
from test_update import assert_merged_cleanly, edit, generate

from extensions.catalog import CatalogError, load_catalog
from extensions.keywords import suggest_stack
from extensions.stack import Stack, stack_problems

STANDINS = REPO / "tests" / "engine" / "standins" / "grafana"
LOGS = ["fastapi", "postgres", "loki", "alloy"]
WATCHED = ["fastapi", "postgres", "redis", "nginx", "prometheus", "grafana", "loki", "alloy"]


def program(path: Path) -> ModuleType:
    """A stand-in's program (a Python file without .py) as a module: its configuration checks are used here."""
    loader = importlib.machinery.SourceFileLoader(path.name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(path.name, loader))
    loader.exec_module(module)
    return module


LOKI = program(STANDINS / "loki" / "3.7.8" / "loki")
ALLOY = program(STANDINS / "alloy" / "v1.21.2" / "alloy")


# --- wiring and the questionnaire ---------------------------------------------------------------------------------

def test_loki_needs_a_collector_and_the_collector_a_store() -> None:
    assert [p.message for p in stack_problems(CATALOG, answers_for(["fastapi", "loki"]))] == [
        "Loki needs a monitoring tool: add alloy to monitoring, or remove loki from monitoring"]
    assert [p.message for p in stack_problems(CATALOG, answers_for(["fastapi", "alloy"]))] == [
        "Alloy needs a monitoring tool: add loki to monitoring, or remove alloy from monitoring"]
    stack = Stack(CATALOG, answers_for(LOGS))
    assert stack.environment("alloy") == {"LOKI_PUSH_URL": "http://loki:3100/loki/api/v1/push"}
    assert stack.depends_on("alloy") == {"loki": "service_healthy"}
    assert stack.depends_on("loki") == {}  # needs, not wired: no cycle


def test_grafana_gets_the_loki_datasource_only_where_loki_is() -> None:
    with_logs = Stack(CATALOG, answers_for(WATCHED))
    assert with_logs.environment("grafana")["LOKI_URL"] == "http://loki:3100"
    assert ("loki", "dashboard.json") in with_logs.dashboards()
    without = Stack(CATALOG, answers_for(["fastapi", "postgres", "prometheus", "grafana"]))
    assert "LOKI_URL" not in without.environment("grafana")
    assert not any(service == "loki" for service, _ in without.dashboards())


@pytest.mark.parametrize("description", [
    "centralised logs for my FastAPI app", "centralized logging please", "a FastAPI app with Loki",
    "LogQL over the services' output", "log aggregation for the API", "a log shipper and somewhere to search logs",
    "grafana alloy and loki"])
def test_descriptions_that_ask_for_logs_get_loki_and_its_collector(description: str) -> None:
    assert sorted(suggest_stack(description, CATALOG)["monitoring"]) == ["alloy", "loki"]


@pytest.mark.parametrize("description", [
    "users log in to a blog", "a login page and a catalog", "logging in with a changelog",
    "a FastAPI app that logs workouts", "a ship's log book", "a dialog with a logo", "logistics for a warehouse",
    "a metal alloy price tracker", "no centralized logging", "FastAPI without Loki", "an audit log table in Postgres"])
def test_words_about_logs_that_are_not_the_stacks_choose_nothing(description: str) -> None:
    assert not {"loki", "alloy"} & set(suggest_stack(description, CATALOG).get("monitoring", []))


@pytest.mark.parametrize(("description", "named"), [("logs with promtail", "Promtail"), ("fluent bit", "Fluent Bit"),
                                                     ("an ELK stack", "Logstash")])
def test_log_tools_the_catalog_lacks_are_named_with_the_closest(description: str, named: str) -> None:
    assert sorted(suggest_stack(description, CATALOG)["monitoring"]) == ["alloy", "loki"]
    assert named in {a.label for a in CATALOG.absent.values()}


# --- the generated project -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("logs") / "p", answers_for(WATCHED, project_name="Shop"))


def test_every_service_logs_to_the_collector_by_gelf_only_where_there_is_one(project: Path, tmp_path: Path) -> None:
    """With a collector: gelf over UDP to its port on 127.0.0.1, the compose labels in each message, the engine's
    copy (docker compose logs) rotated like json-file. Without: json-file as before, nothing else."""
    for name, service in compose_config(project)["services"].items():
        assert service["logging"] == {"driver": "gelf", "options": {
            "gelf-address": "udp://127.0.0.1:12201", "labels": "com.docker.compose.project,com.docker.compose.service",
            "cache-max-size": "10m", "cache-max-file": "3"}}, name
    plain = copy_project(tmp_path / "plain", answers_for(["fastapi", "postgres", "prometheus"]))
    assert all(s["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
               for s in compose_config(plain)["services"].values())


def test_a_port_offset_moves_the_gelf_address_with_the_port(tmp_path: Path) -> None:
    moved = Stack(CATALOG, answers_for(LOGS, host_port_offset=20000))
    assert moved.ports["ALLOY_GELF_HOST_PORT"] == 32201
    assert moved.logging()[1]["gelf-address"] == "udp://127.0.0.1:${ALLOY_GELF_HOST_PORT:-32201}"


def test_alloy_runs_as_its_user_with_no_mount_of_the_host_and_one_udp_port(project: Path) -> None:
    model = compose_config(project)
    for name, service in model["services"].items():
        assert not any("docker.sock" in str(v.get("source", "")) for v in service.get("volumes", [])), name
    alloy = model["services"]["alloy"]
    assert [v["source"] for v in alloy["volumes"]] == [str(project / "services/alloy/config.alloy")]
    assert alloy["user"] == "473:473" and alloy["read_only"] is True
    assert "# Posture exception" not in (project / "services/alloy/compose.yaml").read_text()
    assert [(p["host_ip"], p["published"], p["target"], p["protocol"]) for p in alloy["ports"]] == [
        ("127.0.0.1", "12201", 12201, "udp")]


def test_compose_lint_passes_with_no_exclusion(project: Path) -> None:
    assert not (project / ".compose-lint.yml").exists()
    result = subprocess.run([tool("compose-lint"), "check", "--format", "json", "--fail-on", "high", "compose.yaml"],
                            cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert {f["severity"] for f in json.loads(result.stdout)["findings"]} <= {"low", "medium"}


@pytest.mark.parametrize(("edit", "fix"), [
    ({"log_driver": "syslog"}, "a log collector names the Docker logging driver every service uses (gelf)"),
    ({"port": 12202}, "a log collector names the Docker logging driver"),
    ({"tcp": True}, "one of its ports with protocol: udp and local_only"),
])
def test_a_log_collector_is_refused_with_the_fix(tmp_path: Path, edit: dict, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    spec_file = services / "alloy" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    if edit.pop("tcp", False):
        spec["ports"][0]["protocol"] = "tcp"
    spec["provides"]["log-collection"].update(edit)
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(CatalogError, match=re.escape(fix)):
        load_catalog(services)


def test_a_second_log_collector_is_refused_until_a_stack_refuses_two(tmp_path: Path) -> None:
    services = _catalog_copy(tmp_path)
    spec_file = services / "postgres" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["ports"].append({"env": "POSTGRES_GELF_HOST_PORT", "container": 12201, "host": 12202, "protocol": "udp",
                          "local_only": "takes forged lines", "help": "GELF"})
    spec["kubernetes"] = {"omit": "a cluster runs its own"}
    spec["provides"]["log-collection"] = {"log_driver": "gelf", "port": 12201}
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(CatalogError, match="is the catalog's log collector already"):
        load_catalog(services)


def test_loki_is_on_127_0_0_1_with_its_own_health_command(project: Path) -> None:
    loki = compose_config(project)["services"]["loki"]
    assert [(p["host_ip"], p["target"]) for p in loki["ports"]] == [("127.0.0.1", 3100)]
    assert loki["healthcheck"]["test"][:3] == ["CMD", "/usr/bin/loki", "-health"]
    assert loki["environment"]["LOKI_RETENTION"] == "30d" and "-config.expand-env=true" in loki["command"]


@pytest.mark.parametrize(("retention", "valid"), [("30d", True), ("744h", True), ("1d", True), ("12h", False)])
def test_loki_yaml_passes_the_checks_known_here(project: Path, retention: str, valid: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in's -verify-config: every key in the subset Loki's reference documents, and Loki's own refusals
    (retention without a delete-request store, under 24h). Not Loki's validator: the harness runs that one (`loki
    -verify-config`) wherever the real image runs."""
    monkeypatch.setenv("LOKI_RETENTION", retention)
    args = [f"-config.file={project / 'services/loki/loki.yaml'}", "-config.expand-env=true", "-verify-config"]
    if valid:
        assert LOKI.main(args) == 0
    else:
        with pytest.raises(SystemExit):
            LOKI.main(args)


def test_config_alloy_parses_and_keeps_this_projects_lines_only(project: Path) -> None:
    """The rendered config.alloy through the stand-in's parser and stages: a GELF message as Docker sends it (its
    JSON is the line loki.source.gelf passes on) comes out as the service's own line, labelled service; another
    project's, or a container's without compose labels, is dropped."""
    components = ALLOY.check(ALLOY.Parser((project / "services/alloy/config.alloy").read_text()).body(None))
    assert {c["name"] for c in components.values()} == {"logging", "loki.relabel", "loki.source.gelf",
                                                          "loki.process", "loki.write"}
    source = ALLOY.attrs(components["loki.source.gelf.services"]["body"])
    assert source["listen_address"] == "0.0.0.0:12201" and source["use_incoming_timestamp"] is True
    stages = [b for b in components["loki.process.services"]["body"] if b[0] == "block"]
    rules = ALLOY.Pipeline(components).rules(components["loki.source.gelf.services"])

    def entry(project_label: str | None, level: int = 3) -> tuple[str, dict] | None:
        message = {"version": "1.1", "host": "h", "short_message": "hello", "timestamp": 1796320000.5, "level": level,
                   "_container_name": "shop-fastapi-1"}
        if project_label:
            message.update({"_com.docker.compose.project": project_label, "_com.docker.compose.service": "fastapi"})
        decoded = ALLOY.decode_gelf(gzip.compress(json.dumps(message).encode()))
        labels = ALLOY.relabel(rules, {"__gelf_message_level": ALLOY.SEVERITIES[level]})
        return ALLOY.process(stages, ALLOY.gelf_line(decoded), {k: v for k, v in labels.items()
                                                                  if not k.startswith("__")})

    assert entry("shop") == ("hello", {"service": "fastapi", "stream": "stderr"})
    assert entry("shop", level=6) == ("hello", {"service": "fastapi", "stream": "stdout"})
    assert entry("another") is None
    assert entry(None) is None


def test_the_logs_dashboard_queries_parse_as_logql(project: Path) -> None:
    board = json.loads((project / "services/loki/dashboard.json").read_text())
    assert board["uid"] == "stacks-logs"
    for panel in board["panels"]:
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "loki", "uid": "loki"}
            expr = target["expr"].replace("$service", "fastapi").replace("$search", "").replace("$__interval", "1m")
            LOKI.Query(expr)  # raises on a parse error


def test_grafana_provisions_loki_from_the_environment(project: Path) -> None:
    datasources = yaml.safe_load((project / "services/grafana/provisioning/datasources/datasources.yml").read_text())
    loki = [d for d in datasources["datasources"] if d["type"] == "loki"]
    assert loki == [{"name": "Loki", "uid": "loki", "type": "loki", "access": "proxy", "url": "${LOKI_URL}",
                     "isDefault": False, "editable": False, "jsonData": {"maxLines": 1000}}]
    mounts = [v["target"] for v in compose_config(project)["services"]["grafana"]["volumes"]]
    assert "/etc/grafana/dashboards/loki.json" in mounts


def test_the_readme_says_how_to_query_a_services_logs(project: Path) -> None:
    readme = (project / "README.md").read_text()
    section = readme[readme.index("## Logs"):]
    assert re.search(r"curl -G -s http://127\.0\.0\.1:3100/loki/api/v1/query_range --data-urlencode "
                     r"'query=\{service=\"fastapi\"\}'", section)
    flat = section.replace("\n", " ")
    assert "LOKI_RETENTION" in section and "gelf" in flat and "lost" in flat


def test_a_project_without_logs_has_none_of_it(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p", answers_for(["fastapi", "postgres", "prometheus", "grafana"]))
    assert not (project / "services/loki").exists() and not (project / "services/alloy").exists()
    assert "## Logs" not in (project / "README.md").read_text()
    assert not (project / ".compose-lint.yml").exists()
    assert os.path.exists(project / "services/grafana/provisioning/datasources/datasources.yml")


def test_adding_and_removing_the_collector_turns_every_services_logging_and_keeps_hand_edits(tmp_path: Path) -> None:
    """Alloy joining by `copier update` rewrites the logging of every fragment, the user's own lines beside it
    merged in; leaving, it gives them json-file back, the user's lines still there."""
    template = new_template_repo(tmp_path / "stacks")
    release(template, "9.0.0", files_from=REPO)
    base = answers_for(["fastapi", "postgres", "prometheus"], project_name="Shop")
    project = generate(template, tmp_path / "shop", *(f"{k}={v}" for k, v in base.items()), ref="9.0.0")
    fragment = project / "services/fastapi/compose.yaml"
    edit(fragment, "      memory: 512m\n", "      memory: 1g\n")
    edit(fragment, "    environment:\n", '    environment:\n      FEATURE_FLAGS: "beta"\n', count=1)
    commit_all(project, "more memory, our flag")

    def logging_and_edits() -> tuple[set[str], str, str]:
        """Every service's logging driver, and the user's memory limit and flag in fastapi's fragment."""
        services = compose_config(project)["services"]
        fastapi = services["fastapi"]
        return ({s["logging"]["driver"] for s in services.values()},
                fastapi["deploy"]["resources"]["limits"]["memory"], fastapi["environment"]["FEATURE_FLAGS"])

    copier("update", "--trust", "--defaults", "-d", "monitoring=[prometheus,loki,alloy]", cwd=project)
    assert_merged_cleanly(project)
    assert logging_and_edits() == ({"gelf"}, str(1024 ** 3), "beta")
    commit_all(project, "with logs")

    copier("update", "--trust", "--defaults", "-d", "monitoring=[prometheus]", cwd=project)
    assert_merged_cleanly(project)
    assert logging_and_edits() == ({"json-file"}, str(1024 ** 3), "beta")
