"""Loads the sample shop data shipped in data/ into the stack's warehouse with dlt, incrementally.

The warehouse comes from the environment, as the stack wires it: WAREHOUSE_DIALECT (duckdb or postgres) and
WAREHOUSE_URL (the DuckDB file's path, or a postgresql:// URL). The tables land in the schema RAW_SCHEMA (raw),
where the transformation reads them. Nothing is fetched from the network: telemetry is off.

    python pipeline.py                       # everything in data/
    python pipeline.py --as-of 2026-01-31    # only what was written by the end of that day
    python pipeline.py --show                # the rows each table holds in the warehouse now

orders.csv is a change log (a row per version of an order): each run loads only the rows written since the
last one (dlt's incremental cursor on updated_at, kept in the warehouse) and merges them by order_id, so the
raw table holds each order's latest version.

Where the stack has object storage (S3_ENDPOINT_URL, with S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID and
S3_SECRET_ACCESS_KEY), each run also lands the raw rows in the bucket, under RAW_SCHEMA/ (raw/customers/,
raw/orders/), as gzipped JSON lines: the customers replaced at every run, the orders appended as the change log
they are (every version, only the rows written since the last landing: a cursor of its own, kept in the bucket).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no network at run time

import dlt

DATA_DIR = Path(os.environ.get("SAMPLE_DATA_DIR") or Path(__file__).resolve().parent / "data")
DIALECTS = ("duckdb", "postgres")
TABLES = ("customers", "orders")


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (DATA_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as file:
        yield from csv.DictReader(file)


@dlt.resource(primary_key="customer_id", write_disposition="merge")
def customers() -> Iterator[dict[str, Any]]:
    for row in _rows("customers"):
        yield {
            "customer_id": int(row["customer_id"]),
            "name": row["name"],
            "country": row["country"],
            "signed_up_at": _time(row["signed_up_at"]),
        }


@dlt.resource(primary_key="order_id", write_disposition="merge")
def orders(
    as_of: datetime | None = None,
    # dlt reads the cursor from the default (its documented idiom)
    updated_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(  # noqa: B008
        "updated_at", initial_value=datetime(1970, 1, 1, tzinfo=UTC)
    ),
) -> Iterator[dict[str, Any]]:
    # dlt drops the rows at or before the cursor the last run stored; as_of stands for "now" in the sample
    for row in _rows("orders"):
        written = _time(row["updated_at"])
        if as_of is None or written <= as_of:
            yield {
                "order_id": int(row["order_id"]),
                "customer_id": int(row["customer_id"]),
                "status": row["status"],
                "amount_cents": int(row["amount_cents"]),
                "ordered_at": _time(row["ordered_at"]),
                "updated_at": written,
            }


def destination() -> Any:
    dialect = os.environ.get("WAREHOUSE_DIALECT", "")
    url = os.environ.get("WAREHOUSE_URL", "")
    if dialect not in DIALECTS or not url:
        raise SystemExit(
            f"set WAREHOUSE_DIALECT ({' or '.join(DIALECTS)}) and WAREHOUSE_URL (the DuckDB file's path, or a "
            "postgresql:// URL): the stack's compose file gives both"
        )
    if dialect == "postgres":
        return dlt.destinations.postgres(credentials=url)
    return dlt.destinations.duckdb(credentials=url)


def _s3() -> dict[str, str] | None:
    """The object storage the stack wires (S3_*), or None where it has none: S3_ENDPOINT_URL unset or empty."""
    endpoint = os.environ.get("S3_ENDPOINT_URL", "")
    if not endpoint:
        return None
    names = ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"S3_ENDPOINT_URL is set but {', '.join(missing)} not: the stack's compose file gives all")
    return {
        "endpoint_url": endpoint,
        "region_name": os.environ.get("S3_REGION") or "us-east-1",
        "bucket": os.environ["S3_BUCKET"],
        "key": os.environ["S3_ACCESS_KEY_ID"],
        "secret": os.environ["S3_SECRET_ACCESS_KEY"],
    }


# MinIO answers path-style (http://minio:9000/bucket/key), never bucket.minio:9000
PATH_STYLE = {"s3": {"addressing_style": "path"}}


def lake() -> Any | None:
    """dlt's filesystem destination on the stack's bucket (the tables under RAW_SCHEMA/), or None without one."""
    s3 = _s3()
    if s3 is None:
        return None
    return dlt.destinations.filesystem(
        bucket_url=f"s3://{s3['bucket']}",
        credentials={
            "aws_access_key_id": s3["key"],
            "aws_secret_access_key": s3["secret"],
            "endpoint_url": s3["endpoint_url"],
            "region_name": s3["region_name"],
        },
        kwargs={"config_kwargs": PATH_STYLE},
    )


def land(as_of: datetime | None = None) -> dict[str, int] | None:
    """Lands what is new in the bucket and returns the number of rows written for each table; None where the stack
    has no object storage."""
    bucket = lake()
    if bucket is None:
        return None
    return _load(
        "sample_shop_lake",  # a state and cursor of its own, kept in the bucket (raw/_dlt_*)
        bucket,
        [
            customers().apply_hints(write_disposition="replace"),  # 12 rows: a snapshot, not a history
            orders(as_of=as_of).apply_hints(write_disposition="append"),  # the change log: every version
        ],
        loader_file_format="jsonl",
    )


def _filesystem(s3: dict[str, str]) -> Any:
    """The bucket's S3 server as an fsspec filesystem (s3fs, which dlt's filesystem destination uses too)."""
    import s3fs  # installed only where the stack has object storage

    return s3fs.S3FileSystem(
        key=s3["key"],
        secret=s3["secret"],
        endpoint_url=s3["endpoint_url"],
        client_kwargs={"region_name": s3["region_name"]},
        config_kwargs=PATH_STYLE,
        skip_instance_cache=True,
    )


def bucket_rows(table: str) -> list[dict[str, Any]]:
    """The rows of a table in the bucket, read back from its files under RAW_SCHEMA/<table>/ (gzipped JSON lines)."""
    s3 = _s3()
    if s3 is None:
        raise SystemExit("set S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY")
    filesystem = _filesystem(s3)
    rows: list[dict[str, Any]] = []
    for key in sorted(filesystem.find(f"{s3['bucket']}/{_schema()}/{table}")):
        data = filesystem.cat_file(key)
        if data[:2] == b"\x1f\x8b":  # gzip's magic number: dlt compresses what it writes, unless told not to
            data = gzip.decompress(data)
        rows += [json.loads(line) for line in data.splitlines() if line.strip()]
    return rows


def run(as_of: datetime | None = None) -> dict[str, int]:
    """Loads what is new and returns the number of rows loaded into each table."""
    return _load("sample_shop", destination(), [customers(), orders(as_of=as_of)])


def _load(name: str, to: Any, resources: list[Any], **options: Any) -> dict[str, int]:
    """Runs the pipeline `name` into the destination `to`, its tables in RAW_SCHEMA, and returns the number of rows
    written to each table."""
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=to,
        dataset_name=_schema(),
        # the working folder is scratch (a read-only image has /tmp): the state lives at the destination
        pipelines_dir=os.environ.get("DLT_PIPELINES_DIR") or None,
    )
    pipeline.run(resources, **options)
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {table: counts.get(table, 0) for table in TABLES}


def _schema() -> str:
    """The schema (a folder, in the bucket) the raw tables are in."""
    return os.environ.get("RAW_SCHEMA", "raw")


def query(sql: str) -> list[tuple[Any, ...]]:
    """The rows a query over the warehouse returns; {schema} in it is RAW_SCHEMA. A DuckDB file is opened read-only
    and closed after: another process may open it next."""
    destination()  # says what to set when the warehouse is not given
    sql = sql.format(schema=f'"{_schema()}"')
    if os.environ["WAREHOUSE_DIALECT"] == "postgres":
        import psycopg2

        connection = psycopg2.connect(os.environ["WAREHOUSE_URL"])
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()
    import duckdb

    with duckdb.connect(os.environ["WAREHOUSE_URL"], read_only=True) as connection:
        return connection.sql(sql).fetchall()


def stored() -> dict[str, int]:
    """The rows each table holds in the warehouse."""
    return {table: query(f"select count(*) from {{schema}}.{table}")[0][0] for table in TABLES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--as-of",
        type=lambda day: _time(f"{day}T23:59:59Z"),
        help="load only the rows written by the end of this day (YYYY-MM-DD)",
    )
    parser.add_argument("--show", action="store_true", help="print the rows each table holds, load nothing")
    arguments = parser.parse_args()
    if arguments.show:
        print(" ".join(f"{table}={rows}" for table, rows in stored().items()), "rows in the warehouse")
        if _s3() is not None:
            print(" ".join(f"{table}={len(bucket_rows(table))}" for table in TABLES), "rows in the bucket")
        return
    loaded = run(arguments.as_of)
    print(" ".join(f"{table}={rows}" for table, rows in loaded.items()), "rows loaded")
    landed = land(arguments.as_of)
    if landed is not None:
        print(" ".join(f"{table}={rows}" for table, rows in landed.items()), "rows landed in the bucket")


if __name__ == "__main__":
    main()
