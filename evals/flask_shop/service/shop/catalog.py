"""The catalog and coupons (loaded at start; a real shop would read them from a database)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int


@dataclass(frozen=True)
class Coupon:
    code: str
    percent: int


CATALOG = {
    p.sku: p
    for p in [
        Product("SKU-1001", "Espresso beans 1kg", 2490),
        Product("SKU-1002", "Filter papers (100)", 450),
        Product("SKU-1003", "Ceramic dripper", 1990),
        Product("SKU-1004", "Hand grinder", 5900),
        Product("SKU-1005", "Gooseneck kettle", 4500),
        Product("SKU-1006", "Milk jug 350ml", 1290),
        Product("SKU-1007", "Digital scale", 2790),
        Product("SKU-1008", "Travel mug", 1590),
    ]
}

COUPONS = {c.code: c for c in [Coupon("WELCOME10", 10), Coupon("SPRING15", 15)]}


def find_coupon(code):
    """The coupon for ``code``, or None when there is no such coupon."""
    return COUPONS.get(code.strip().upper())


def price_cents(items):
    """Sum of ``[{"sku", "qty"}]`` in cents."""
    return sum(CATALOG[item["sku"]].price_cents * int(item.get("qty", 1)) for item in items)
