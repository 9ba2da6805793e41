"""Writes the sample shop data the pipeline loads: data/customers.csv and data/orders.csv.

Deterministic (a fixed seed), so the files shipped in the project are exactly what this writes and the marts'
expected rows are known. orders.csv is a change log: a row per version of an order, with the time it was
written (updated_at); an order placed in January and shipped in February has two rows. Loading it "as of" the
end of January, then of February, shows what a second, incremental run loads: only the rows written since.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SEED = 14
COUNTRIES = ("DE", "FR", "NL", "PL", "SE")
JANUARY = datetime(2026, 1, 1, tzinfo=UTC)
FEBRUARY = datetime(2026, 2, 1, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rng = random.Random(SEED)  # noqa: S311 - sample data, reproducible on purpose
    customers = [
        {
            "customer_id": n,
            "name": f"Customer {n:02d}",
            "country": COUNTRIES[n % len(COUNTRIES)],
            "signed_up_at": _stamp(JANUARY - timedelta(days=30 - n)),
        }
        for n in range(1, 13)
    ]
    orders: list[dict[str, object]] = []
    # 60 orders placed in January, 20 in February; every version of an order is a row of its own
    for order_id in range(1, 81):
        month = JANUARY if order_id <= 60 else FEBRUARY
        placed = month + timedelta(days=rng.randrange(27), minutes=rng.randrange(24 * 60))
        order = {
            "order_id": order_id,
            "customer_id": rng.randint(1, 12),
            "status": "placed",
            "amount_cents": rng.randrange(500, 20000, 5),
            "ordered_at": _stamp(placed),
            "updated_at": _stamp(placed),
        }
        orders.append(order)
        # every fifth January order is shipped in February, every seventh cancelled then
        if order_id <= 60 and order_id % 5 == 0:
            orders.append(
                {**order, "status": "shipped", "updated_at": _stamp(FEBRUARY + timedelta(days=order_id % 20))}
            )
        elif order_id <= 60 and order_id % 7 == 0:
            orders.append(
                {**order, "status": "cancelled", "updated_at": _stamp(FEBRUARY + timedelta(days=order_id % 20))}
            )
    orders.sort(key=lambda o: (str(o["updated_at"]), int(str(o["order_id"]))))
    return customers, orders


def write(folder: Path = DATA) -> None:
    customers, orders = generate()
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("customers", customers), ("orders", orders)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    write()
