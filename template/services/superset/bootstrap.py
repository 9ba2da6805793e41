"""Superset's start-up, each step idempotent, in one Python process (the superset CLI creates the app
again for each command: db upgrade, fab create-admin, init and import-dashboards took 2.5 minutes as four processes
on a loaded machine):

1. migrate Superset's database (superset db upgrade);
2. the user admin with SUPERSET_ADMIN_PASSWORD: created the first time, its password set again each time, so a
   password changed in .env takes effect at the next up (superset fab create-admin only creates);
3. roles and permissions synced (superset init, the slow one) only when Superset's version differs from the one
   that last synced them, kept in a table of this script's own in Superset's database;
4. the bundle in bundle/ imported with overwrite (superset import-dashboards): the warehouse connection, written
   from the stack's environment (WAREHOUSE_DIALECT, WAREHOUSE_READER_URL), the dataset over MARTS_SCHEMA's
   daily_orders, its chart and the dashboard. A second import leaves one of each.

The calls are those of Superset 6.1.0's CLI (superset/cli/main.py init, superset/cli/importexport.py
import_dashboards) and Flask-AppBuilder 5.3's security manager, run natively by tests/test_superset.py. Roles are
synced before the admin is created, so that the role Admin exists on an empty database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

BUNDLE = Path(__file__).resolve().parent / "bundle"
ADMIN = "admin"


def warehouse_connection() -> tuple[str, dict[str, Any]]:
    """The SQLAlchemy URI of the warehouse, read-only, and the connection's `extra`, from the stack's environment."""
    dialect = os.environ["WAREHOUSE_DIALECT"]
    url = os.environ["WAREHOUSE_READER_URL"]
    if dialect == "postgres":
        # a user that can only SELECT (PostgreSQL's warehouse-reader); psycopg2 is the driver this image adds
        return url.replace("postgresql://", "postgresql+psycopg2://", 1), {}
    if dialect == "duckdb":
        # The file the jobs write, opened read-only by each query and closed after it (Superset's query engines use
        # NullPool by default), so it holds DuckDB's lock only while a query runs: a job that writes meanwhile fails
        # to lock it, and a query while a job writes fails (DuckDB: one writer process, or any number of readers).
        # External access off: SQL Lab must not read the container's files (read_csv('/etc/passwd')) nor install
        # extensions; lock_configuration keeps a query from turning it on again. duckdb-engine 0.17 passes them to
        # duckdb.connect(path, read_only=True, config={...}); Superset's engine spec adds its custom_user_agent to
        # config beside them (tests/test_superset.py checks the settings on the connection Superset opens).
        extra = {
            "engine_params": {
                "connect_args": {
                    "read_only": True,
                    "config": {"enable_external_access": False, "lock_configuration": True},
                }
            }
        }
        return f"duckdb:///{url}", extra
    sys.exit(f"WAREHOUSE_DIALECT is {dialect!r}: this Superset knows postgres and duckdb")


def bundle_contents() -> dict[str, str]:
    """The bundle's files as Superset's importer takes them ({path in the bundle: YAML text}), with the connection
    and the marts' schema filled in from the environment. Built in memory: no zip file, nothing written."""
    uri, extra = warehouse_connection()
    schema = os.environ.get("MARTS_SCHEMA", "analytics")
    contents: dict[str, str] = {}
    for path in sorted(BUNDLE.rglob("*.yaml")):
        name = path.relative_to(BUNDLE).as_posix()
        document = yaml.safe_load(path.read_text())
        if name.startswith("databases/"):
            document["sqlalchemy_uri"] = uri
            document["extra"] = {**(document.get("extra") or {}), **extra}
        if name.startswith("datasets/"):
            document["schema"] = schema
        contents[name] = yaml.safe_dump(document, sort_keys=False)
    return contents


def main() -> int:
    started = time.monotonic()

    def done(what: str) -> None:
        print(f"superset: {what} ({time.monotonic() - started:.1f} s)", flush=True)

    from superset.app import create_app

    app = create_app()
    done("app created")
    with app.app_context():
        from flask_migrate import upgrade
        from sqlalchemy import text
        from superset import appbuilder, db, security_manager
        from superset.commands.dashboard.importers.dispatcher import ImportDashboardsCommand
        from superset.utils.core import override_user

        # 6.1 has no superset.version module: the version is a config key read from static/version_info.json
        version = app.config["VERSION_STRING"]
        upgrade()  # the migrations directory Superset's Migrate() was given
        done("database migrated")

        db.session.execute(text("CREATE TABLE IF NOT EXISTS stacks_bootstrap (synced_version text NOT NULL)"))
        synced = db.session.execute(text("SELECT synced_version FROM stacks_bootstrap")).scalar()
        if synced != version:
            appbuilder.add_permissions(update_perms=True)
            security_manager.sync_role_definitions()
            db.session.execute(text("DELETE FROM stacks_bootstrap"))
            db.session.execute(text("INSERT INTO stacks_bootstrap VALUES (:v)"), {"v": version})
            done(f"roles synced for {version}")
        db.session.commit()

        admin = security_manager.find_user(username=ADMIN)
        password = os.environ["SUPERSET_ADMIN_PASSWORD"]
        if admin is None:
            # the role Admin exists once the roles are synced (above, at the first start)
            role = security_manager.find_role(security_manager.auth_role_admin)
            if role is None:
                sys.exit("superset: there is no role Admin to give the user admin")
            admin = security_manager.add_user(ADMIN, "Stack", "Admin", "admin@localhost", role, password=password)
            if not admin:
                sys.exit("superset: the user admin could not be created")
        else:
            security_manager.reset_password(admin.id, password)
        done("user admin ready")

        with override_user(admin):
            ImportDashboardsCommand(bundle_contents(), overwrite=True).run()
        done("warehouse connection and dashboard provisioned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
