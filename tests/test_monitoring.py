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
    assert [c.name for c in valkey.components if c.category == "exporter"] == ["mysqld-exporter", "redis-exporter"]
    assert valkey.environment("redis-exporter")["REDIS_ADDR"] == "redis://valkey:6379"
    # the application's user and password: the exporter's collectors that need more rights are off
    mysqld = valkey.environment("mysqld-exporter")
    assert mysqld["MYSQLD_EXPORTER_ADDRESS"] == "mariadb:3306"
    assert mysqld["MYSQLD_EXPORTER_USERNAME"].startswith("${MARIADB_USER:")
    assert mysqld["MYSQLD_EXPORTER_PASSWORD"].startswith("${MARIADB_PASSWORD:")


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


def test_nginx_serves_stub_status_on_a_private_port_only_where_its_exporter_joins(tmp_path: Path) -> None:
    """Nginx provides its stub_status page (nginx-status); the exporter that reads it joins only where the stack has
    Nginx and Prometheus, and only then does nginx.conf serve the page: on 8081, which compose never publishes and
    no route reaches. The exporter's image (FROM scratch) has no program for a healthcheck: it is excused from that
    rule alone, and nothing waits for it to be healthy. The chart, which deploys no Nginx, leaves it out."""
    alone = Stack(CATALOG, answers_for(["fastapi", "nginx"]))
    other_proxy = Stack(CATALOG, answers_for(["fastapi", "caddy", "prometheus"]))
    watched = Stack(CATALOG, answers_for(["fastapi", "nginx", "prometheus"]))
    assert "nginx-exporter" not in alone.names + other_proxy.names and not alone.provided("nginx", "nginx-status")
    assert "nginx-exporter" in watched.names and watched.provided("nginx", "nginx-status")
    assert not watched.provided("nginx", "metrics") and not watched.provided("fastapi", "nginx-status")
    assert watched.environment("nginx-exporter") == {"SCRAPE_URI": "http://nginx:8081/stub_status"}
    targets = {(t.service, t.port, t.path) for t in watched.scrape_targets("prometheus")}
    assert ("nginx-exporter", 9113, "/metrics") in targets
    assert watched.depends_on("nginx-exporter") == {"nginx": "service_healthy"}
    assert [c.name for c in watched.components if "nginx-exporter" in watched.depends_on(c.name)] == ["prometheus"]
    assert watched.depends_on("prometheus")["nginx-exporter"] == "service_started"
    view = KubernetesView(CATALOG, answers_for(["fastapi", "nginx", "prometheus"]))
    assert "nginx-exporter" not in view.deployed_names

    for names, served in ((["fastapi", "nginx"], False), (["fastapi", "nginx", "prometheus"], True)):
        project = copy_project(tmp_path / "-".join(names), answers_for(names, project_name="Shop"))
        config = (project / "services" / "nginx" / "nginx.conf").read_text()
        config = "\n".join(line for line in config.splitlines() if not line.lstrip().startswith("#"))
        routed, _, status = config.partition("listen 8081;")
        assert bool(status) == served and ("stub_status" in config) == served
        assert "stub_status" not in routed and "8081" not in routed, "the page is on the private port only"
        if served:
            assert "location = /stub_status {\n        stub_status;\n    }" in status
            assert "location / {\n        return 404;\n    }" in status and "access_log off;" in status
            assert "proxy_pass" not in status
        model = compose_config(project)
        assert [int(p["target"]) for p in model["services"]["nginx"]["ports"]] == [8080], "8081 is never published"
        if served:
            exporter = model["services"]["nginx-exporter"]
            assert "ports" not in exporter and "healthcheck" not in exporter
            assert {k: v["condition"] for k, v in exporter["depends_on"].items()} == {"nginx": "service_healthy"}
            reason = CATALOG.components["nginx-exporter"].runtime.exceptions["healthcheck"]
            fragment = (project / "services" / "nginx-exporter" / "compose.yaml").read_text()
            assert f"# Posture exception (healthcheck): {reason}" in fragment
        # every other service keeps its healthcheck
        unchecked = [n for n, s in model["services"].items() if "healthcheck" not in s]
        assert unchecked == (["nginx-exporter"] if served else [])
