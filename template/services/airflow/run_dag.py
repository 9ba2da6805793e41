#!/usr/bin/env python
"""Airflow's REST API as a user of the stack reaches it, from inside the API server's container (make airflow-run
runs it there): trigger a DAG and wait for its run, list a DAG's runs, or show each process's health. It signs in
as admin with AIRFLOW_ADMIN_PASSWORD. Standard library only.

    python /opt/airflow/bin/run_dag.py pipeline            # trigger the DAG, wait, print "pipeline: success"
    python /opt/airflow/bin/run_dag.py --runs pipeline     # its runs, newest first
    python /opt/airflow/bin/run_dag.py --health            # metadatabase, scheduler, ... healthy
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

API = os.environ.get("AIRFLOW_API_URL", "http://127.0.0.1:8080")
FINISHED = {"success", "failed"}


def call(method: str, path: str, body: object = None, token: str = "") -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, method=method, data=data)  # noqa: S310 - the stack's own API
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the stack's own API
            return json.load(answer)
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path}: {error.code} {error.read().decode(errors='replace')[:300]}")


def sign_in() -> str:
    password = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        sys.exit("AIRFLOW_ADMIN_PASSWORD is not set: run this in the airflow service (docker compose exec airflow ...)")
    return call("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]


def trigger(dag: str, wait: float) -> int:
    token = sign_in()
    call("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False}, token)
    run = call("POST", f"/api/v2/dags/{dag}/dagRuns", {"logical_date": None, "conf": {}}, token)["dag_run_id"]
    print(f"{dag}: run {run} queued", flush=True)
    quoted = urllib.parse.quote(run, safe="")
    deadline = time.monotonic() + wait
    state = "queued"
    while time.monotonic() < deadline:
        state = call("GET", f"/api/v2/dags/{dag}/dagRuns/{quoted}", token=token)["state"]
        if state in FINISHED:
            break
        time.sleep(3)
    tasks = call("GET", f"/api/v2/dags/{dag}/dagRuns/{quoted}/taskInstances", token=token)["task_instances"]
    for task in sorted(tasks, key=lambda t: t.get("start_date") or ""):
        print(f"  {task['task_id']}: {task['state']} (try {task['try_number']})")
    print(f"{dag}: {state}")
    return 0 if state == "success" else 1


def runs(dag: str) -> int:
    token = sign_in()
    found = call("GET", f"/api/v2/dags/{dag}/dagRuns?order_by=-start_date&limit=20", token=token)["dag_runs"]
    for run in found:
        print(f"{run['dag_run_id']}: {run['state']}")
    return 0 if found else 1


def health() -> int:
    answer = call("GET", "/api/v2/monitor/health")
    states = {name: (part or {}).get("status") for name, part in answer.items()}
    unhealthy = [name for name, state in states.items() if state != "healthy"]
    print(" ".join(states), "healthy" if not unhealthy else f"- not healthy: {', '.join(unhealthy)}")
    return 1 if unhealthy else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag", nargs="?", default="pipeline")
    parser.add_argument("--runs", action="store_true", help="list the DAG's runs instead of triggering one")
    parser.add_argument("--health", action="store_true", help="the health of every Airflow process")
    parser.add_argument("--wait", type=float, default=540, help="seconds to wait for the run (default 540)")
    args = parser.parse_args()
    if args.health:
        return health()
    return runs(args.dag) if args.runs else trigger(args.dag, args.wait)


if __name__ == "__main__":
    sys.exit(main())
