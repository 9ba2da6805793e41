"""Keyword detection: the description suggests the stack, with whole words, synonyms and negation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from projects import CATALOG

from extensions.catalog import load_catalog
from extensions.keywords import absent_mentions, find_mentions, suggest_stack


def expect(**chosen: str | list[str]) -> dict[str, str | list[str]]:
    return {category: chosen.get(category, [] if spec.multiselect else "none")
            for category, spec in CATALOG.questions.items()}


FULL = expect(backend="fastapi", frontend="react", database="postgres", cache="redis", proxy="nginx")
BI = expect(database="postgres", warehouse="duckdb", ingestion="dlt", transformation="dbt", bi="superset")


@pytest.mark.parametrize(
    ("description", "stack"),
    [
        ("FastAPI with Postgres and Redis", expect(backend="fastapi", database="postgres", cache="redis")),
        ("", FULL),
        ("A todo list for my family", FULL),
        # synonyms
        ("An API on uvicorn and pydantic", expect(backend="fastapi")),
        ("Service storing orders in PostgreSQL", expect(database="postgres")),
        ("Uses postgres for data", expect(database="postgres")),
        ("FastAPI service with caching", expect(backend="fastapi", cache="redis")),
        ("a cache in front of a db", expect(cache="redis", database="postgres")),
        ("A React SPA", expect(frontend="react")),
        ("Vue frontend with FastAPI", expect(frontend="vue", backend="fastapi")),
        ("An Express backend with Postgres", expect(backend="express", database="postgres")),
        ("a Node.js backend on MariaDB", expect(backend="express", database="mariadb")),
        ("A Node.js API", expect(backend="express")),
        ("Express app for the team's rota", expect(backend="express")),
        ("an expressive API with Postgres", expect(backend="fastapi", database="postgres")),  # not Express
        ("a Vue.js page, no backend", expect(frontend="vue")),
        ("a Nuxt site on FastAPI", expect(frontend="vue", backend="fastapi")),  # not in the catalog: its closest
        ("A Next.js frontend on an Express API", expect(frontend="nextjs", backend="express")),
        ("nextjs app, no backend", expect(frontend="nextjs")),
        ("React, not Next.js", expect(frontend="react")),
        ("A Django app with MySQL", expect(backend="django", database="mariadb")),  # MySQL: its closest, MariaDB
        ("Django with Postgres and Redis", expect(backend="django", database="postgres", cache="redis")),
        ("FastAPI, not Django", expect(backend="fastapi")),
        ("FastAPI on MariaDB", expect(backend="fastapi", database="mariadb")),
        ("FastAPI with Valkey", expect(backend="fastapi", cache="valkey")),
        ("Django on Postgres, cached in Valkey, not Redis", expect(backend="django", database="postgres", cache="valkey")),
        ("a Redis cache, not Valkey", expect(cache="redis")),
        ("Django cached in Memcached", expect(backend="django", cache="memcached")),
        ("an Express API with a memcache layer", expect(backend="express", cache="memcached")),
        # the component named wins over the category word before it, whatever the alphabet says
        ("a cache: Valkey, no Redis", expect(cache="valkey")),
        ("a caching layer, not Memcached", expect(cache="redis")),
        # several tools at once, a list answer
        ("FastAPI that sends its mail through SMTP", expect(backend="fastapi", tools=["mailpit"])),
        ("Django with Mailpit to catch mail", expect(backend="django", tools=["mailpit"])),
        ("an Express API, no SMTP", expect(backend="express")),
        ("FastAPI that keeps uploads in S3", expect(backend="fastapi", tools=["minio"])),
        ("an Express API with object storage and SMTP", expect(backend="express", tools=["mailpit", "minio"])),
        ("Django, files in an S3-compatible store", expect(backend="django", tools=["minio"])),
        ("a MinIO bucket behind Django", expect(backend="django", tools=["minio"])),
        ("FastAPI keeping files on disk, no S3", expect(backend="fastapi")),
        ("an API storing its data in Maria DB, with Redis", expect(backend="fastapi", database="mariadb", cache="redis")),
        ("FastAPI on MariaDB, not Postgres", expect(backend="fastapi", database="mariadb")),
        ("a MySQL database", expect(database="mariadb")),  # not in the catalog: its closest component
        # a category by its own name takes its default component
        ("a backend and a frontend", expect(backend="fastapi", frontend="react")),
        # negation
        ("FastAPI without Redis", expect(backend="fastapi")),
        ("no frontend", {**FULL, "frontend": "none"}),
        ("We don't need caching", {**FULL, "cache": "none"}),
        ("without redis, with postgres and fastapi", expect(backend="fastapi", database="postgres")),
        ("React app, no backend", expect(frontend="react")),
        ("No frontend. FastAPI on Postgres", expect(backend="fastapi", database="postgres")),
        ("FastAPI, not using a cache or a database", expect(backend="fastapi")),
        # what a choice requires comes along: a proxy needs something to route to
        ("an nginx reverse proxy", expect(proxy="nginx", backend="fastapi")),
        ("React behind nginx", expect(proxy="nginx", frontend="react")),
        ("nginx, without a backend", expect(proxy="nginx", frontend="react")),
        # a worker needs a broker (Redis serves, where there is no other), the backend's code and a cache
        ("FastAPI with Celery", expect(backend="fastapi", cache="redis", worker="celery")),
        ("Django with background jobs", expect(backend="django", cache="redis", worker="celery")),
        ("a task queue on RabbitMQ", expect(backend="fastapi", cache="redis", broker="rabbitmq", worker="celery")),
        ("a message queue", expect(backend="fastapi", cache="redis", broker="rabbitmq", worker="celery")),
        ("speaks AMQP", expect(backend="fastapi", cache="redis", broker="rabbitmq", worker="celery")),
        ("Celery beat for periodic tasks, Valkey", expect(backend="fastapi", cache="valkey", worker="celery")),
        ("FastAPI with background tasks, no RabbitMQ", expect(backend="fastapi", cache="redis", worker="celery")),
        ("FastAPI and Postgres, no background jobs", expect(backend="fastapi", database="postgres")),
        ("FastAPI behind Caddy", expect(backend="fastapi", proxy="caddy")),
        ("a React page served with TLS from Let's Encrypt", expect(frontend="react", proxy="caddy")),
        ("nginx, not Caddy", expect(backend="fastapi", proxy="nginx")),
        ("a client that fetches prices over https", FULL),  # HTTPS as a client is not a proxy's TLS
        ("a PWA with a service worker", FULL),  # a browser's worker, not a background worker
        ("a site for insurance brokers", FULL),  # not a message broker
        # monitoring: Prometheus by name or by the category's words; Alertmanager brings the Prometheus it needs
        ("FastAPI on Postgres with Prometheus", expect(backend="fastapi", database="postgres", monitoring=["prometheus"])),
        ("Django with monitoring and alerting", expect(backend="django", monitoring=["alertmanager", "prometheus"])),
        ("FastAPI with Alertmanager", expect(backend="fastapi", monitoring=["alertmanager", "prometheus"])),
        ("FastAPI and Postgres, no monitoring", expect(backend="fastapi", database="postgres")),
        ("Prometheus, but no Alertmanager, on Django", expect(backend="django", monitoring=["prometheus"])),
        ("a dashboard of sales metrics", FULL),  # an app's metrics, not its monitoring
        # an exporter is never asked: "nginx exporter" chooses the proxy, whose exporter joins for Prometheus
        ("an nginx exporter for Prometheus on FastAPI",
         expect(backend="fastapi", proxy="nginx", monitoring=["prometheus"])),
        ("price alerts for shoppers, FastAPI", expect(backend="fastapi")),  # an app's alerts
        # a BI tool: by its words, by "dashboards" beside a pipeline, by name; it brings the marts it charts (dbt on a
        # DuckDB warehouse, unless one is named) and PostgreSQL for its own database
        ("BI dashboards over the warehouse", BI),
        ("an ELT pipeline with business intelligence", BI),
        ("an ELT pipeline with dashboards", BI),
        ("a data warehouse and dashboards for the sales team", BI),
        ("an ELT pipeline, dashboards with Superset", BI),
        ("Apache Superset over our shop's data", BI),
        ("a data warehouse on PostgreSQL with BI dashboards",
         expect(database="postgres", ingestion="dlt", transformation="dbt", bi="superset")),
        # ...and not: an app's dashboard, Grafana's, the word's other meanings, negation
        ("a Django app with an admin dashboard", expect(backend="django")),
        ("a React dashboard for our sales team", expect(frontend="react")),
        ("Prometheus metrics with dashboards", expect(backend="fastapi", monitoring=["prometheus"])),
        ("Grafana dashboards for the API", expect(backend="fastapi", monitoring=["grafana", "prometheus"])),
        ("TypeScript is a superset of JavaScript", FULL),
        ("bi-weekly reports in a Vue app", expect(frontend="vue")),
        ("an ELT pipeline, no dashboards", expect(warehouse="duckdb", ingestion="dlt", transformation="dbt")),
        ("an ELT pipeline without a BI tool", expect(warehouse="duckdb", ingestion="dlt", transformation="dbt")),
        ("FastAPI with a dashboard in the admin UI, no BI tool", expect(backend="fastapi", frontend="react")),
    ],
)
def test_suggested_stack(description: str, stack: dict[str, str]) -> None:
    assert suggest_stack(description, CATALOG) == stack


@pytest.mark.parametrize(
    "description",
    [
        "an expression evaluator",  # not Express
        "reactive streams",  # not React
        "the target audience",  # not a GET endpoint
        "mongodb and nosql",  # neither "db" nor "no sql"
        "fastapi-like",  # a hyphenated compound is another word
        "preact and reactor",
        "a revue of the week's bookings",  # not Vue
        "a clear overview",  # not Vue
        "next steps: the next version, next week",  # not Next.js
        "a djangoesque admin for the expressway",  # not Django, not Express
        "a valkey-like store",  # a hyphenated compound is another word: not Valkey
        "memcachedb and memcache-compatible stores",  # neither is Memcached itself
        "the s3cret of s3x and mys3",  # not S3
        "a minio-like store",  # a hyphenated compound is another word: not MinIO
    ],
)
def test_words_inside_other_words_are_not_mentions(description: str, tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, nodeapi=("backend", ["express", "node.js", "nodejs"]), getter=("backend", ["get"]))
    assert [m for m in find_mentions(description, catalog) if not m.absent] == []  # MongoDB is named, as absent


def test_longest_phrase_wins() -> None:
    mentions = find_mentions("a reverse proxy", CATALOG)
    assert [(m.category, m.component) for m in mentions] == [("proxy", None)]
    assert mentions[0].end - mentions[0].start == len("reverse proxy")


def test_negation_ends_with_the_clause() -> None:
    mentions = {m.component or m.category: m.negated for m in find_mentions("no redis, but postgres", CATALOG)}
    assert mentions == {"redis": True, "postgres": False}


def _catalog_with(tmp_path: Path, **components: tuple[str, list[str]]):
    """The real catalog plus extra components, to test words the real one does not use yet."""
    import shutil

    from projects import REPO

    services = tmp_path / "services"
    shutil.copytree(REPO / "template" / "services", services)
    # as an author does when a component joins: its entry leaves not-in-catalog.yml
    absent_file = services / "not-in-catalog.yml"
    absent = yaml.safe_load(absent_file.read_text())
    taken = {word for name, (_, keywords) in components.items() for word in (name, *keywords)}
    absent_file.write_text(yaml.safe_dump({k: v for k, v in absent.items() if not taken & {k, *v["keywords"]}}))
    for name, (category, keywords) in components.items():
        (services / name).mkdir()
        (services / name / "component.yml").write_text(
            f"label: {name}\ncategory: {category}\nsummary: test\nkeywords: {keywords}\nimage: node:24.19.0-alpine\n"
            "runtime:\n  user: \"1000:1000\"\n"
        )
    return load_catalog(services)


def test_a_multiselect_category_suggests_every_component_it_names(tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, netdata=("monitoring", ["netdata"]))
    assert catalog.categories["monitoring"].multiselect
    # in the catalog's order, as the question lists them, whatever order the description names them in
    assert suggest_stack("FastAPI with Prometheus and netdata", catalog)["monitoring"] == ["netdata", "prometheus"]
    assert suggest_stack("FastAPI with monitoring, but no netdata", catalog)["monitoring"] == ["prometheus"]
    assert suggest_stack("", catalog)["monitoring"] == []
    assert suggest_stack("FastAPI", catalog)["monitoring"] == []


@pytest.mark.parametrize(
    ("description", "stack"),
    [
        ("FastAPI with Grafana", expect(backend="fastapi", monitoring=["grafana", "prometheus"])),
        ("FastAPI with Grafana dashboards", expect(backend="fastapi", monitoring=["grafana", "prometheus"])),
        ("Django with a monitoring dashboard", expect(backend="django", monitoring=["grafana", "prometheus"])),
        ("FastAPI with monitoring dashboards", expect(backend="fastapi", monitoring=["grafana", "prometheus"])),
        ("an observability dashboard for an Express API",
         expect(backend="express", monitoring=["grafana", "prometheus"])),
        ("FastAPI with a Prometheus dashboard", expect(backend="fastapi", monitoring=["grafana", "prometheus"])),
        ("FastAPI with Grafana and Alertmanager",
         expect(backend="fastapi", monitoring=["alertmanager", "grafana", "prometheus"])),
        # refused: the monitoring stays
        ("FastAPI with monitoring, no Grafana", expect(backend="fastapi", monitoring=["prometheus"])),
        ("Prometheus, but no Grafana, on Django", expect(backend="django", monitoring=["prometheus"])),
        # traps: what an app shows its users, and a hyphenated compound
        ("a dashboard for sales", FULL),
        ("a dashboard of sales metrics", FULL),
        ("a sales metrics dashboard", FULL),
        ("an admin dashboard in Django", expect(backend="django")),
        ("a Grafana-style chart page on FastAPI", expect(backend="fastapi")),
    ],
)
def test_keywords_choose_grafana_only_for_monitoring(description: str, stack: dict[str, str | list[str]]) -> None:
    assert suggest_stack(description, CATALOG) == stack


# --- technologies the catalog lacks (template/services/not-in-catalog.yml) -------------------------------------------

@pytest.mark.parametrize(
    ("description", "stack", "absent"),
    [
        # named, then offered its category's closest component: never silently swapped, never all five defaults
        ("Flask app with a MySQL database", expect(backend="fastapi", database="mariadb"), ["Flask", "MySQL"]),
        ("Flask app with SQLite", expect(backend="fastapi", database="postgres"), ["Flask", "SQLite"]),
        ("A Rails app", expect(backend="fastapi"), ["Ruby on Rails"]),
        ("A Django app with MySQL", expect(backend="django", database="mariadb"), ["MySQL"]),
        ("Go microservice with Kafka", expect(backend="fastapi"), ["Go", "Kafka"]),
        ("A Svelte frontend on a FastAPI backend", expect(backend="fastapi", frontend="react"), ["Svelte"]),
        ("Metabase dashboards over the warehouse", BI, ["Metabase"]),
        ("an ELT pipeline with Power BI", BI, ["Power BI"]),
        ("an ELT pipeline into ClickHouse", expect(warehouse="duckdb", ingestion="dlt", transformation="dbt"),
         ["ClickHouse"]),
        # refused or merely English: nothing absent is named
        ("FastAPI, no Flask", expect(backend="fastapi"), []),
        ("FastAPI with Postgres, no ClickHouse", expect(backend="fastapi", database="postgres"), []),
        ("Ready to go: an express delivery tracker with FastAPI", expect(backend="fastapi"), []),
        ("A springboard for rails-free ideas", FULL, []),
        # every project has a Helm chart: Kubernetes is no technology the catalog lacks
        ("FastAPI on Kubernetes (k8s, Helm)", expect(backend="fastapi"), []),
    ],
)
def test_a_technology_the_catalog_lacks_is_named_and_offered_its_closest(description: str, stack: dict[str, str],
                                                                         absent: list[str]) -> None:
    assert suggest_stack(description, CATALOG) == stack
    assert [a.label for a in absent_mentions(description, CATALOG)] == absent


def test_a_component_joining_the_catalog_must_leave_not_in_catalog(tmp_path: Path) -> None:
    import shutil

    from extensions.catalog import CatalogError

    services = tmp_path / "services"
    shutil.copytree(Path(__file__).resolve().parents[1] / "template" / "services", services)
    (services / "mysql").mkdir()
    (services / "mysql" / "component.yml").write_text(yaml.safe_dump(
        {"label": "MySQL", "category": "database", "summary": "relational database", "keywords": ["mysql"],
         "image": "mysql:8.4.3", "datastore": True, "provides": {"sql-database": {}}, "runtime": {"user": "999:999"},
         "backup": {"file": "mysql.sql", "dump": "mysqldump --databases app", "check": "tail -n 1 | grep -q Dump",
                    "restore": "mysql"}}))
    with pytest.raises(CatalogError, match="already names mysql: a component for it has joined the catalog"):
        load_catalog(services)
