"""Orders kept in memory, newest last."""

import itertools
from datetime import date

ORDERS = []
PAGE_SIZE = 5
_ids = itertools.count(1)


def add_order(total_cents, day=None):
    order = {"id": next(_ids), "total_cents": total_cents, "day": (day or date.today()).isoformat()}
    ORDERS.append(order)
    return order


def page_of(page):
    start = (page - 1) * PAGE_SIZE
    return ORDERS[start : start + PAGE_SIZE]


def totals_on(day):
    return [o["total_cents"] for o in ORDERS if o["day"] == day]
