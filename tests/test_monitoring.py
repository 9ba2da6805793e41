"""Metrics: what joins a stack for Prometheus, and what stays private. A metrics exporter is never asked: it joins
where the stack has its datastore and something scrapes metrics, and it does not count as a user of that
datastore. The ports metrics are served on are never published nor routed, in compose and in the Helm chart.
Every alert rule file of the catalog passes its own promtool unit test (tests/test_posture.py checks them again
in each generated project, with prometheus.yml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from projects import CATALOG, answers_for, compose_config, copy_project, pairwise_stacks
from test_posture import tool

from extensions.catalog import CATALOG_DIR
from extensions.kubernetes import KubernetesView
from extensions.stack import Stack

SCRAPED = [(c.name, data["alerts"]) for c in CATALOG.components.values() for data in c.provides.values()
           if "alerts" in data]


def test_an_exporter_joins_only_where_its_datastore_is_scraped() -> None:
    alone = Stack(CATALOG, answers_for(["fastapi", "postgres", "redis"]))
    watched = Stack(CATALOG, answers_for(["fastapi", "postgres", "redis", "prometheus"]))
    assert not [c.name for c in alone.components if c.category == "exporter"]
    assert [c.name for c in watched.components if c.category == "exporter"] == ["postgres-exporter", "redis-exporter"]
    assert {t.service for t in watched.scrape_targets("prometheus")} == {"fastapi", "postgres-exporter", "redis-exporter"}
    valkey = Stack(CATALOG, answers_for(["fastapi", "mariadb", "valkey", "prometheus"]))
    assert [c.name for c in valkey.components if c.category == "exporter"] == ["redis-exporter"]
    assert valkey.environment("redis-exporter")["REDIS_ADDR"] == "redis://valkey:6379"


def test_an_exporter_is_no_user_of_the_datastore_it_watches() -> None:
    """"Just Postgres for local development" stays published on 127.0.0.1 with Prometheus watching it."""
    stack = Stack(CATALOG, answers_for(["postgres", "prometheus"]))
    assert "postgres-exporter" in stack.names and stack.consumers("postgres") == []
    assert [(port.env, address) for port, _, address in stack.published("postgres")] == [("POSTGRES_HOST_PORT", "127.0.0.1")]


@pytest.mark.parametrize("names", [n for n in pairwise_stacks() if "prometheus" in n], ids="+".join)
def test_metrics_ports_are_neither_published_nor_routed(names: list[str], tmp_path: Path) -> None:
    stack = Stack(CATALOG, answers_for(names))
    # a port of its own for metrics (Alertmanager serves its on its UI's port, published on 127.0.0.1 only)
    metrics = {(t.service, t.port) for t in stack.scrape_targets("prometheus")
               if t.port not in {p.container for p in CATALOG.components[t.service].ports}}
    project = copy_project(tmp_path / "p", answers_for(names, project_name="Shop"))
    model = compose_config(project)
    published = {(name, int(p["target"])) for name, s in model["services"].items() for p in s.get("ports", [])}
    assert not metrics & published
    for config in [*project.glob("services/*/nginx.conf"), *project.glob("services/*/Caddyfile"),
                   *project.glob("services/*/dynamic.yml")]:
        text = config.read_text()
        assert not [f"{s}:{p}" for s, p in metrics if f"{s}:{p}" in text], f"{config} routes a metrics port"
    prometheus_port = next(p for p in model["services"]["prometheus"]["ports"] if int(p["target"]) == 9090)
    assert prometheus_port["host_ip"] == "127.0.0.1", "Prometheus has no login: on this machine only"
    view = KubernetesView(CATALOG, answers_for(names))
    assert "prometheus" not in view.deployed_names
    assert not [r for r in view.ingress_routes if r.capability == "metrics"]


@pytest.mark.parametrize(("name", "alerts"), SCRAPED, ids=[n for n, _ in SCRAPED])
def test_alert_rules_pass_their_unit_tests(name: str, alerts: str, tmp_path: Path) -> None:
    """Each component's alert rules, as its folder holds them (named for where Prometheus scrapes it)."""
    test = alerts.removesuffix(".yml") + ".test.yml"
    for file in (alerts, test):
        shutil.copy(CATALOG_DIR / name / f"{{% if stack.scraped('{name}') %}}{file}{{% endif %}}", tmp_path / file)
    promtool = tool("promtool")
    check = subprocess.run([promtool, "check", "rules", alerts], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run([promtool, "test", "rules", test], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_prometheus_own_rules_pass_their_unit_tests(tmp_path: Path) -> None:
    result = subprocess.run([tool("promtool"), "test", "rules", "alerts.test.yml"], cwd=CATALOG_DIR / "prometheus",
                            capture_output=True, text=True)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
