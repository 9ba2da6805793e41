"""dbt build over raw tables of its own in each warehouse the stack may give it (conftest.py), as the ingestion
leaves them: the staging views, the marts and every data test; the marts hold what Python computes from the same
rows, and bad raw data fails the build, naming the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Warehouse

PROJECT = Path(__file__).resolve().parent.parent
DBT = Path(sys.executable).with_name("dbt")
CUSTOMERS = [(1, "Customer 1", "FR"), (2, "Customer 2", "SE"), (3, "Customer 3", "DE")]
ORDERS = [  # order_id, customer_id, status, amount_cents, ordered_at
    (10, 1, "placed", 1000, "2026-01-02 10:00:00+00"),
    (11, 1, "cancelled", 500, "2026-01-02 12:00:00+00"),
    (12, 2, "shipped", 2500, "2026-01-03 09:00:00+00"),
]


def dbt_build(warehouse: Warehouse, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        **warehouse.env,
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


def test_the_marts_hold_what_the_raw_orders_add_up_to(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.load_raw(CUSTOMERS, ORDERS)
    result = dbt_build(warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Completed successfully" in result.stdout
    revenue = warehouse.execute(
        "select customer_id, orders_placed, revenue_cents from {analytics}.customer_revenue order by customer_id"
    )
    daily = warehouse.execute(
        "select cast(ordered_on as varchar), orders_placed, revenue_cents from {analytics}.daily_orders "
        "order by ordered_on"
    )
    schemas = {row[0] for row in warehouse.execute("select schema_name from information_schema.schemata")}
    expected = {
        c: (sum(o[1] == c for o in ORDERS), sum(o[3] for o in ORDERS if o[1] == c and o[2] != "cancelled"))
        for c, _, _ in CUSTOMERS
    }
    assert [tuple(int(v) for v in row) for row in revenue] == [(c, *expected[c]) for c in sorted(expected)]
    assert [(day, int(placed), int(cents)) for day, placed, cents in daily] == [
        ("2026-01-02", 2, 1000),
        ("2026-01-03", 1, 2500),
    ]
    staging, analytics = warehouse.schemas["staging"], warehouse.schemas["analytics"]
    assert {staging, analytics} <= schemas and f"{analytics}_{staging}" not in schemas


@pytest.mark.parametrize(
    ("orders", "failing"),
    [
        ([*ORDERS, ORDERS[0]], "source_unique_raw_orders_order_id"),  # the same order twice
        # an order of a customer nobody knows
        ([*ORDERS, (13, 9, "placed", 100, "2026-01-05 10:00:00+00")], "relationships_stg_orders_customer_id"),
    ],
)
def test_bad_raw_data_fails_the_build_naming_the_test(
    warehouse: Warehouse, tmp_path: Path, orders: list[tuple], failing: str
) -> None:
    warehouse.load_raw(CUSTOMERS, orders)
    result = dbt_build(warehouse, tmp_path)
    assert result.returncode != 0
    assert f"Failure in test {failing}" in result.stdout, result.stdout[-3000:]
