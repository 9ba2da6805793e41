"""Answers are data: hostile text comes out verbatim in files that still parse, and bad answers are refused
before anything is written, with a message that names the fix."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from projects import compose_config, copy_project, read_env

NAME = "2 \"Quoted\" 'Shop' {{ 7*7 }} $HOME #1: 🚀 café"
DESCRIPTION = "Orders: {{ 7*7 }} {% raw %} $VAR ${HOME} `id` \"quotes\" 'single' #hash\nsecond line: FastAPI with Postgres and Redis"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = {"project_name": NAME, "project_description": DESCRIPTION, "frontend": "react", "proxy": "nginx"}
    return copy_project(tmp_path_factory.mktemp("hostile") / "project", data)


def test_hostile_answers_are_recorded_verbatim(hostile: Path) -> None:
    answers = yaml.safe_load((hostile / ".copier-answers.yml").read_text())
    assert answers["project_name"] == NAME and answers["project_description"] == DESCRIPTION
    assert answers["project_slug"] == "2-quoted-shop-7-7-home-1-cafe"


def test_hostile_answers_come_out_verbatim_in_every_format(hostile: Path) -> None:
    readme = (hostile / "README.md").read_text()
    assert readme.startswith(f"# {NAME}\n") and DESCRIPTION in readme
    assert tomllib.loads((hostile / "services/fastapi/pyproject.toml").read_text())["project"]["description"] == DESCRIPTION
    assert json.loads((hostile / "services/react/package.json").read_text())["description"] == DESCRIPTION
    config_ts = (hostile / "services/react/src/config.ts").read_text()
    literals = dict(re.findall(r"export const (\w+): [^=]+ = (.+);", config_ts))
    assert json.loads(literals["PROJECT_NAME"]) == NAME and json.loads(literals["PROJECT_DESCRIPTION"]) == DESCRIPTION
    python_literals = [
        node.value for path in (hostile / "services/fastapi/app").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)
    ]
    assert NAME in python_literals and DESCRIPTION in python_literals
    assert "49" not in readme, "an answer was rendered as a template"


def test_hostile_answers_keep_compose_and_env_intact(hostile: Path) -> None:
    model = compose_config(hostile)
    assert model["name"] == "2-quoted-shop-7-7-home-1-cafe"
    assert set(read_env(hostile / ".env")) >= {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "NGINX_HOST_PORT"}


@pytest.mark.parametrize(
    ("data", "question", "fix"),
    [
        ({"project_name": "   "}, "project_name", "enter a project name"),
        ({"project_name": "two\nlines"}, "project_name", "must fit on one line"),
        ({"project_name": "x" * 81}, "project_name", "80 characters at most (it has 81)"),
        ({"project_name": "tab\there"}, "project_name", "remove the control characters"),
        ({"project_slug": "My Shop"}, "project_slug", "lowercase letters, digits and hyphens"),
        ({"project_slug": "shop_1"}, "project_slug", "e.g. my-project"),
        ({"project_slug": "-shop"}, "project_slug", "starting and ending with a letter or digit"),
        ({"backend": "rails"}, "backend", "'rails' is not in ['fastapi', "),  # the choices, the default first
        ({"project_description": "nginx only, no backend, no frontend"}, "proxy",
         "Nginx needs a backend or a frontend: choose backend=fastapi or frontend=react, or set proxy to none"),
        ({"proxy": "nginx", "backend": "none", "frontend": "none"}, "proxy", "or set proxy to none"),
        ({"backend": "none", "frontend": "none", "database": "none", "cache": "none", "proxy": "none"}, "proxy",
         "the stack is empty: choose at least one component"),
        ({"backend": "express", "worker": "celery"}, "worker",
         "Celery needs a backend that provides celery-app, which Express does not: choose backend=fastapi, "
         "or set worker to none"),
        ({"cache": "memcached", "worker": "celery"}, "worker",
         "Celery needs a cache that provides task-results, which Memcached does not: choose cache=redis, "
         "or set worker to none"),
        ({"broker": "rabbitmq", "worker": "none"}, "worker", "RabbitMQ needs a background worker: choose worker=celery, or set broker to none"),
        ({"database": "mariadb", "ingestion": "dlt"}, "ingestion", "dlt needs a database or a data warehouse that "
         "provides warehouse, which MariaDB does not: choose database=postgres or warehouse=duckdb, or set ingestion to "
         "none"),
        ({"orchestration": "airflow"}, "orchestration",
         "Apache Airflow needs a data ingestion: choose ingestion=dlt, or set orchestration to none"),
        ({"database": "mariadb", "warehouse": "duckdb", "ingestion": "dlt", "orchestration": "airflow"},
         "orchestration", "Apache Airflow needs a database that provides own-database, which MariaDB does not: "
         "choose database=postgres, or set orchestration to none"),
        ({"bi": "superset"}, "bi",
         "Apache Superset needs a data transformation: choose transformation=dbt, or set bi to none"),
        ({"database": "none", "warehouse": "duckdb", "ingestion": "dlt", "transformation": "dbt", "bi": "superset"},
         "bi", "Apache Superset needs a database: choose database=postgres, or set bi to none"),
        ({"domain": "shop.example.com"}, "domain", "a reverse proxy that obtains its certificates itself: choose proxy=caddy"),
        ({"proxy": "caddy", "domain": "https://shop.example.com"}, "domain", "such as app.example.com"),
        ({"proxy": "caddy", "domain": "localhost"}, "domain", "at least one dot"),
        ({"host_port_offset": 65000}, "host_port_offset", "must be a number from 0 to"),
        ({"host_port_offset": -1}, "host_port_offset", "added to every host port"),
    ],
)
def test_bad_answers_are_refused_before_anything_is_written(tmp_path: Path, data: dict, question: str, fix: str) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError) as refused:
        copy_project(destination, data)
    assert f"'{question}'" in str(refused.value) and fix in str(refused.value)
    assert not destination.exists()


def test_a_leading_digit_and_unicode_name_get_a_safe_slug(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p", {"project_name": "42 Ünïcode Café 🚀", "backend": "fastapi",
                                            "frontend": "none", "database": "none", "cache": "none", "proxy": "none"})
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"] == "42-unicode-cafe"


@pytest.mark.parametrize("value", [NAME, DESCRIPTION, "nul\x00 del\x7f tab\t cr\r", "", "yes", "null", "- a", "@x: y"])
def test_literal_filters_hold_any_text(value: str) -> None:
    """The filters templates use to write answers into YAML, TOML and Python files."""
    from extensions.stack import yaml_scalar
    from extensions.stacks_extension import py_str, toml_str

    assert yaml.safe_load(f"key: {yaml_scalar(value)}")["key"] == value
    assert tomllib.loads(f"key = {toml_str(value)}")["key"] == value
    assert ast.literal_eval(py_str(value)) == value
