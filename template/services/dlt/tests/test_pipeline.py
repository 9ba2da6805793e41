"""The pipeline against a real warehouse of each dialect the stack may give it (conftest.py), with the libraries
the image has."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import pipeline
import sample_data

JANUARY_END = pipeline._time("2026-01-31T23:59:59Z")


def test_the_shipped_sample_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    sample_data.write(tmp_path)
    for name in ("customers.csv", "orders.csv"):
        assert (tmp_path / name).read_bytes() == (pipeline.DATA_DIR / name).read_bytes(), (
            f"run make sample-data: {name}"
        )


def test_a_second_run_loads_only_the_rows_written_since(warehouse: str) -> None:
    assert pipeline.run(as_of=JANUARY_END) == {"customers": 12, "orders": 60}
    # February: 20 new orders, 12 shipped and 7 cancelled of January's
    assert pipeline.run() == {"customers": 12, "orders": 39}
    assert pipeline.run()["orders"] == 0
    statuses = dict(pipeline.query("select status, count(*) from {schema}.orders group by status"))
    assert statuses == {"placed": 61, "shipped": 12, "cancelled": 7}


def test_the_cursor_is_kept_in_the_warehouse_not_the_working_folder(warehouse: str) -> None:
    pipeline.run(as_of=JANUARY_END)
    shutil.rmtree(os.environ["DLT_PIPELINES_DIR"])  # a container's /tmp, gone at its next start
    assert pipeline.run(as_of=JANUARY_END)["orders"] == 0
    assert pipeline.run()["orders"] == 39


def test_without_a_warehouse_it_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE_DIALECT", raising=False)
    with pytest.raises(SystemExit, match="set WAREHOUSE_DIALECT"):
        pipeline.destination()


def test_the_command_loads_then_shows_what_the_warehouse_holds(
    warehouse: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for arguments, printed in (
        (["--as-of", "2026-01-31"], "customers=12 orders=60 rows loaded"),
        (["--show"], "customers=12 orders=60 rows in the warehouse"),
        ([], "customers=12 orders=39 rows loaded"),
        (["--show"], "customers=12 orders=80 rows in the warehouse"),
    ):
        monkeypatch.setattr("sys.argv", ["pipeline.py", *arguments])
        pipeline.main()
        assert capsys.readouterr().out.strip() == printed
