"""dbt build over raw tables of its own in a DuckDB file, as the ingestion leaves them: the staging views, the
marts and every data test; the marts hold what Python computes from the same rows, and bad raw data fails the
build, naming the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parent.parent
DBT = Path(sys.executable).with_name("dbt")
CUSTOMERS = [(1, "Customer 1", "FR"), (2, "Customer 2", "SE"), (3, "Customer 3", "DE")]
ORDERS = [  # order_id, customer_id, status, amount_cents, ordered_at
    (10, 1, "placed", 1000, "2026-01-02 10:00:00+00"),
    (11, 1, "cancelled", 500, "2026-01-02 12:00:00+00"),
    (12, 2, "shipped", 2500, "2026-01-03 09:00:00+00"),
]


def load_raw(path: Path, customers: list[tuple], orders: list[tuple]) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema raw")
        connection.execute(
            "create table raw.customers (customer_id bigint, name varchar, country varchar, signed_up_at timestamptz)"
        )
        connection.execute(
            "create table raw.orders (order_id bigint, customer_id bigint, status varchar, "
            "amount_cents bigint, ordered_at timestamptz, updated_at timestamptz)"
        )
        connection.executemany(
            "insert into raw.customers values (?, ?, ?, timestamptz '2025-12-01 00:00:00+00')", customers
        )
        connection.executemany(
            "insert into raw.orders values (?, ?, ?, ?, cast(? as timestamptz), timestamptz '2026-01-04 00:00:00+00')",
            orders,
        )


def dbt_build(warehouse: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "WAREHOUSE_DIALECT": "duckdb",
        "WAREHOUSE_URL": str(warehouse),
        "RAW_SCHEMA": "raw",
        "MARTS_SCHEMA": "analytics",
        "DBT_PROFILES_DIR": str(PROJECT),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [str(DBT), "build", "--no-use-colors"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_marts_hold_what_the_raw_orders_add_up_to(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw(warehouse, CUSTOMERS, ORDERS)
    result = dbt_build(warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Completed successfully" in result.stdout
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        revenue = connection.sql(
            "select customer_id, orders_placed, revenue_cents from analytics.customer_revenue order by customer_id"
        ).fetchall()
        daily = connection.sql(
            "select cast(ordered_on as varchar), orders_placed, revenue_cents "
            "from analytics.daily_orders order by ordered_on"
        ).fetchall()
        schemas = {row[0] for row in connection.sql("select schema_name from information_schema.schemata").fetchall()}
    expected = {
        c: (sum(o[1] == c for o in ORDERS), sum(o[3] for o in ORDERS if o[1] == c and o[2] != "cancelled"))
        for c, _, _ in CUSTOMERS
    }
    assert revenue == [(c, *expected[c]) for c in sorted(expected)]
    assert daily == [("2026-01-02", 2, 1000), ("2026-01-03", 1, 2500)]
    assert {"staging", "analytics"} <= schemas and "analytics_staging" not in schemas


@pytest.mark.parametrize(
    ("orders", "failing"),
    [
        ([*ORDERS, ORDERS[0]], "source_unique_raw_orders_order_id"),  # the same order twice
        # an order of a customer nobody knows
        ([*ORDERS, (13, 9, "placed", 100, "2026-01-05 10:00:00+00")], "relationships_stg_orders_customer_id"),
    ],
)
def test_bad_raw_data_fails_the_build_naming_the_test(tmp_path: Path, orders: list[tuple], failing: str) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw(warehouse, CUSTOMERS, orders)
    result = dbt_build(warehouse, tmp_path)
    assert result.returncode != 0
    assert f"Failure in test {failing}" in result.stdout, result.stdout[-3000:]
