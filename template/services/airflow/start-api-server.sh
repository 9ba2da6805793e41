#!/bin/sh
# Airflow's API server, after what each start must make sure of, every step idempotent: Airflow's database
# migrated (its own tables, then the FAB auth manager's), and the user admin with AIRFLOW_ADMIN_PASSWORD, so a
# password changed in .env takes effect at the next up (the first start creates the user: there is none to reset).
# The other processes wait for this one to be healthy.
set -eu
airflow db migrate
airflow fab-db migrate
if ! airflow users reset-password --username admin --password "$AIRFLOW_ADMIN_PASSWORD" >/dev/null 2>&1; then
  airflow users create --username admin --password "$AIRFLOW_ADMIN_PASSWORD" --role Admin \
    --firstname Stack --lastname Admin --email admin@localhost >/dev/null
fi
exec airflow api-server
