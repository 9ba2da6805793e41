#!/usr/bin/env python
"""The provisioned chart's query over the mart, as a user of the stack reaches Superset's API, from inside its
container (docker compose exec superset python /app/stacks/query_mart.py; the engine harness's round trip execs
it): sign in as admin with SUPERSET_ADMIN_PASSWORD, find the dataset daily_orders, POST /api/v1/chart/data with
the chart's metrics per day, and print one line per day ("2026-01-02 orders=2 revenue=5365", the metrics by name).
With Superset's own Python: requests is one of its packages.

The API takes the login's JWT alone (no CSRF token); tests/test_superset.py runs this against gunicorn started by
start-superset.sh.
"""

from __future__ import annotations

import datetime
import os
import sys

import requests

API = os.environ.get("SUPERSET_API_URL", "http://127.0.0.1:8088")
CHART_QUERY = {
    "columns": ["ordered_on"],
    "metrics": ["orders", "revenue"],
    "orderby": [["ordered_on", True]],
    "row_limit": 1000,
}


def answer(response: requests.Response) -> dict:
    if not response.ok:
        sys.exit(f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}")
    return response.json()


def day(value: object) -> str:
    """A temporal value as the API answers it (epoch milliseconds) or already a date string."""
    if isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC).date().isoformat()
    return str(value)[:10]


def main() -> int:
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    if not password:
        sys.exit("SUPERSET_ADMIN_PASSWORD is not set: run this in the service (docker compose exec superset ...)")
    session = requests.Session()
    login = {"username": "admin", "password": password, "provider": "db", "refresh": False}
    token = answer(session.post(f"{API}/api/v1/security/login", json=login, timeout=60))["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    datasets = {"q": "(filters:!((col:table_name,opr:eq,value:daily_orders)))"}
    found = answer(session.get(f"{API}/api/v1/dataset/", params=datasets, timeout=60))["result"]
    if not found:
        sys.exit("no dataset daily_orders: the bundle was not imported (see the superset service's log)")
    query = {
        "datasource": {"id": found[0]["id"], "type": "table"},
        "queries": [CHART_QUERY],
        "result_format": "json",
        "result_type": "full",
    }
    result = answer(session.post(f"{API}/api/v1/chart/data", json=query, timeout=120))["result"][0]
    print(f"daily_orders: {result['rowcount']} days")
    for row in result["data"]:
        print(f"{day(row['ordered_on'])} orders={row['orders']} revenue={row['revenue']}")
    return 0 if result["rowcount"] else 1


if __name__ == "__main__":
    sys.exit(main())
