"""Grafana: dashboards of the stack's metrics. It requires a provider of metrics-query (Prometheus), whose datasource
it is provisioned with; it loads the dashboard of each service Prometheus scrapes (provides.metrics.dashboard, in that
service's folder) and Prometheus's own, and no other; every dashboard is JSON that loads and every query passes
promtool; its administrator's password is a generated secret, nobody gets in anonymously or signs up, and it fetches
nothing from the internet. Keywords choose it only where a description means the stack's monitoring."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import (
    CATALOG,
    REPO,
    answers_for,
    compose_config,
    copy_project,
    pairwise_stacks,
    read_env,
)
from test_posture import tool

from extensions.catalog import CATALOG_DIR, CatalogError, load_catalog
from extensions.credentials import SECRET_LENGTH
from extensions.kubernetes import KubernetesView
from extensions.stack import Stack, stack_problems

GRAFANA = CATALOG.components["grafana"]
# Each dashboard of the catalog: (component, capability, file name in its folder, the folder's file name).
DASHBOARDS = [
    (c.name, capability, data["dashboard"],
     f"{{% if stack.scraped('{c.name}') %}}{data['dashboard']}{{% endif %}}"
     if any(capability in s.scrapes for s in CATALOG.components.values())
     else f"{{% if stack.provided('{c.name}', '{capability}') %}}{data['dashboard']}{{% endif %}}")
    for c in CATALOG.components.values() for capability, data in c.provides.items() if "dashboard" in data
]
# Grafana's own step for $__rate_interval with Prometheus's 15 s scrape interval (the datasource's timeInterval).
RATE_INTERVAL = "1m"
STACKS = {
    "default": ["fastapi", "react", "postgres", "redis", "nginx", "prometheus", "grafana"],
    "everything-watched": ["django", "mariadb", "valkey", "rabbitmq", "celery", "nginx", "prometheus",
                           "alertmanager", "grafana"],
    "express": ["express", "memcached", "prometheus", "grafana"],
}
PAIRWISE = [names for names in pairwise_stacks() if "grafana" in names]


def expected_dashboards(stack: Stack) -> set[str]:
    """The services whose dashboard Grafana loads: each one Prometheus scrapes, and Prometheus itself."""
    scraped = {t.service for c in stack.components for t in stack.scrape_targets(c.name)}
    wired = {e.provider for e in stack.wiring("grafana") if e.capability in GRAFANA.wants}
    return {name for name in scraped | wired
            if any("dashboard" in data for data in stack.component(name).provides.values())}


def dashboard_json(name: str, folder_file: str) -> dict[str, Any]:
    return json.loads((CATALOG_DIR / name / folder_file).read_text(encoding="utf-8"))


def queries(board: dict[str, Any]) -> list[str]:
    """The PromQL of a dashboard's panels (LogQL, a Loki datasource's, is test_logs.py's)."""
    return [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])
            if target["datasource"]["type"] == "prometheus"]


def datasource(capability: str) -> dict[str, str]:
    """The provisioned datasource a dashboard's panels query: Loki's for the logs, Prometheus's for metrics."""
    return {"type": "loki", "uid": "loki"} if capability == "logs-query" else {"type": "prometheus", "uid": "prometheus"}


# --- wiring ------------------------------------------------------------------------------------------------------

def test_grafana_requires_a_prometheus_and_gets_its_url() -> None:
    alone = answers_for(["fastapi", "grafana"])
    assert [p.message for p in stack_problems(CATALOG, alone)] == [
        "Grafana needs a monitoring tool: add prometheus to monitoring, or remove grafana from monitoring"]
    stack = Stack(CATALOG, answers_for(["fastapi", "prometheus", "grafana"]))
    assert stack.environment("grafana") == {"PROMETHEUS_URL": "http://prometheus:9090"}
    assert stack.depends_on("grafana") == {"prometheus": "service_healthy"}
    # no datastore datasource: Grafana would run any SQL the application's user (owner of the tables) may run
    assert not {"postgresql-protocol", "mysql-protocol", "sql-database"} & set(GRAFANA.wants)
    assert "grafana" not in KubernetesView(CATALOG, answers_for(["fastapi", "prometheus", "grafana"])).deployed_names


@pytest.mark.parametrize("names", [*STACKS.values(), *PAIRWISE], ids=[*STACKS, *map("+".join, PAIRWISE)])
def test_provisioning_follows_the_stack(names: list[str], tmp_path: Path) -> None:
    """Prometheus's datasource (and Loki's where the stack keeps logs), from the environment; a dashboard mounted
    for each scraped service and Prometheus, each generated in its own folder, and no other."""
    stack = Stack(CATALOG, answers_for(names))
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Shop"))
    provisioning = project / "services" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yml").read_text())
    assert datasources["apiVersion"] == 1
    logs = [("loki", "loki", "${LOKI_URL}", False)] if stack.providers("logs-query") else []
    assert [(d["uid"], d["type"], d["url"], d["isDefault"]) for d in datasources["datasources"]] == [
        ("prometheus", "prometheus", "${PROMETHEUS_URL}", True), *logs]
    providers = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())["providers"]
    assert [(p["type"], p["options"]["path"], p["folder"]) for p in providers] == [
        ("file", "/etc/grafana/dashboards", "Shop")]

    generated = {path.parent.name for path in project.glob("services/*/dashboard.json")}
    assert generated == expected_dashboards(stack)
    service = compose_config(project)["services"]["grafana"]
    assert service["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"
    mounted = {v["target"].removeprefix("/etc/grafana/dashboards/").removesuffix(".json"): v["source"]
               for v in service["volumes"] if v["target"].startswith("/etc/grafana/dashboards/")}
    assert set(mounted) == generated
    assert all(Path(source) == project / "services" / name / "dashboard.json" for name, source in mounted.items())
    assert all(v.get("read_only") for v in service["volumes"] if v["type"] == "bind")


def test_without_grafana_no_dashboard_of_prometheus_and_no_grafana_folder(tmp_path: Path) -> None:
    """A scraped service's dashboard is generated beside its alert rules (as the catalog names it), for a Grafana
    elsewhere to import; Prometheus's only where something reads metrics-query."""
    project = copy_project(tmp_path / "p", answers_for(["fastapi", "postgres", "prometheus"], project_name="Shop"))
    assert not (project / "services" / "grafana").exists()
    assert "## Dashboards" not in (project / "README.md").read_text()
    assert not (project / "services" / "prometheus" / "dashboard.json").exists()
    assert {p.parent.name for p in project.glob("services/*/dashboard.json")} == {"fastapi", "postgres-exporter"}


def test_folder_name_keeps_a_dollar_of_the_project_name(tmp_path: Path) -> None:
    """Grafana expands $NAME in provisioning values: the project's name reaches it with $ written $$."""
    project = copy_project(tmp_path / "p", answers_for(["fastapi", "prometheus", "grafana"],
                                                        project_name='Cost$aver "q" ${HOME}'))
    dashboards = project / "services" / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
    folder = yaml.safe_load(dashboards.read_text())["providers"][0]["folder"]
    assert folder == 'Cost$$aver "q" $${HOME}'
    assert standin().interpolate(folder) == 'Cost$aver "q" ${HOME}'


# --- dashboards --------------------------------------------------------------------------------------------------

def test_the_dashboards_cover_every_metrics_provider_prometheus_and_the_log_store() -> None:
    providers = {c.name for cap in ("metrics", "metrics-query", "logs-query") for c in CATALOG.providers(cap)}
    assert {name for name, *_ in DASHBOARDS} == providers


@pytest.mark.parametrize(("name", "capability", "file", "folder_file"), DASHBOARDS, ids=[d[0] for d in DASHBOARDS])
def test_dashboard_loads_and_queries_the_provisioned_datasource(name: str, capability: str, file: str,
                                                                folder_file: str) -> None:
    board = dashboard_json(name, folder_file)
    assert board["uid"].startswith("stacks-"), "a dashboard's uid is stacks-<what it shows>"
    assert len(board["uid"]) <= 40 and board["title"] and board.get("id") is None
    assert board["panels"] and all(p["type"] in ("timeseries", "stat", "logs") for p in board["panels"])
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == datasource(capability)
        assert panel["targets"] and all(t["datasource"] == panel["datasource"] for t in panel["targets"])
    if capability == "metrics":  # its own job: Prometheus's job_name is the service's name
        assert all(f'job="{name}"' in expr for expr in queries(board)), "a panel reads another service's metrics"


def test_dashboard_uids_are_unique() -> None:
    uids = [dashboard_json(name, folder_file)["uid"] for name, _, _, folder_file in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_every_dashboard_query_passes_promtool(tmp_path: Path) -> None:
    """Each panel's PromQL, $__rate_interval as Grafana fills it, as a recording rule promtool parses."""
    rules = [{"record": f"dashboard:{name.replace('-', '_')}:{number}",
              "expr": expr.replace("$__rate_interval", RATE_INTERVAL)}
             for name, _, _, folder_file in DASHBOARDS
             for number, expr in enumerate(queries(dashboard_json(name, folder_file)))]
    assert all("$" not in rule["expr"] for rule in rules), "only $__rate_interval is a Grafana variable here"
    (tmp_path / "dashboards.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([tool("promtool"), "check", "rules", "dashboards.yml"], cwd=tmp_path, check=False,
                            capture_output=True, text=True)
    assert result.returncode == 0 and f"{len(rules)} rules found" in result.stdout, result.stdout + result.stderr


# --- the catalog's check -----------------------------------------------------------------------------------------

def _catalog_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(CATALOG_DIR, copy)
    return copy


def test_a_dashboard_without_its_file_names_the_file(tmp_path: Path) -> None:
    services = _catalog_copy(tmp_path)
    (services / "rabbitmq" / "{% if stack.scraped('rabbitmq') %}dashboard.json{% endif %}").unlink()
    with pytest.raises(CatalogError, match=r"add the file '\{% if stack.scraped\('rabbitmq'\) %\}dashboard.json"):
        load_catalog(services)


def test_a_dashboard_of_a_capability_nothing_reads_is_refused(tmp_path: Path) -> None:
    services = _catalog_copy(tmp_path)
    spec = services / "postgres" / "component.yml"
    spec.write_text(spec.read_text().replace(
        "  postgresql-protocol:\n", "  sql-database-dashboarded:\n    dashboard: dashboard.json\n  postgresql-protocol:\n"))
    with pytest.raises(CatalogError, match="no component reads sql-database-dashboarded"):
        load_catalog(services)


# --- secrets and exposure ----------------------------------------------------------------------------------------

def test_admin_password_is_a_generated_secret_and_nobody_gets_in_anonymously(tmp_path: Path) -> None:
    variables = {v.name: v for v in GRAFANA.env}
    assert variables["GF_SECURITY_ADMIN_PASSWORD"].secret and variables["GF_SECURITY_SECRET_KEY"].secret
    assert variables["GF_SECURITY_ADMIN_USER"].value == "admin"
    project = copy_project(tmp_path / "p", answers_for(["fastapi", "prometheus", "grafana"], project_name="Shop"))
    env = read_env(project / ".env")
    assert len(env["GF_SECURITY_ADMIN_PASSWORD"]) == SECRET_LENGTH
    assert env["GF_SECURITY_ADMIN_PASSWORD"] != env["GF_SECURITY_SECRET_KEY"]
    assert read_env(project / ".env.example")["GF_SECURITY_ADMIN_PASSWORD"] == ""
    assert env["GF_SECURITY_ADMIN_PASSWORD"] not in (project / ".copier-answers.yml").read_text()
    fragment = (project / "services" / "grafana" / "compose.yaml").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD: ${GF_SECURITY_ADMIN_PASSWORD:?" in fragment
    service = compose_config(project)["services"]["grafana"]
    environment = service["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"] == env["GF_SECURITY_ADMIN_PASSWORD"]
    assert {key: environment[key] for key in ("GF_AUTH_ANONYMOUS_ENABLED", "GF_USERS_ALLOW_SIGN_UP",
                                              "GF_PLUGINS_PREINSTALL_DISABLED", "GF_ANALYTICS_REPORTING_ENABLED",
                                              "GF_ANALYTICS_CHECK_FOR_UPDATES", "GF_METRICS_ENABLED")} == {
        "GF_AUTH_ANONYMOUS_ENABLED": "false", "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_PLUGINS_PREINSTALL_DISABLED": "true", "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false", "GF_METRICS_ENABLED": "false"}
    # it has a login: published on every interface, like Mailpit's UI (Prometheus and Alertmanager stay on 127.0.0.1)
    assert [(int(p["target"]), p.get("host_ip")) for p in service["ports"]] == [(3000, None)]
    assert not GRAFANA.ports[0].local_only
    assert service["user"] == "472:0" and service["read_only"] is True
    readme = (project / "README.md").read_text()
    dashboards = readme.split("## Dashboards\n", 1)[1].split("\n## ", 1)[0]
    for shown in ("http://localhost:3000/", "`GF_SECURITY_ADMIN_USER` (admin)", "`GF_SECURITY_ADMIN_PASSWORD`",
                  "`fastapi` (`services/fastapi/dashboard.json`)", "`prometheus` (`services/prometheus/dashboard.json`)"):
        assert shown in dashboards, shown


def test_grafana_left_the_list_of_technologies_the_catalog_lacks() -> None:
    assert "grafana" not in CATALOG.absent


# --- the stand-in ------------------------------------------------------------------------------------------------

def standin() -> Any:
    """The stand-in's program as a module (it has no .py suffix), for its expansion of provisioning values."""
    path = REPO / "tests" / "engine" / "standins" / "grafana" / "grafana" / GRAFANA.image.split(":")[1] / "grafana"
    loader = importlib.machinery.SourceFileLoader("grafana_standin", str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("value", "expanded"),
    [("${URL}", "http://p:9090"), ("$URL/x", "http://p:9090/x"), ("$__env{URL}", "http://p:9090"),
     ("a$$b", "a$b"), ("$$URL", "$URL"), ("${UNSET}", ""), ("${}", ""), ("cost $ 5", "cost $ 5"), ("$1", "")],
)
def test_standin_expands_provisioning_values_as_grafana(value: str, expanded: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Grafana's provisioning/values: $$ is a literal $, then $__env{} and os.ExpandEnv of Go."""
    monkeypatch.setenv("URL", "http://p:9090")
    monkeypatch.delenv("UNSET", raising=False)
    assert standin().interpolate(value) == expanded
