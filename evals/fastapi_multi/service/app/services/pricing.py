"""Shipping surcharges per region, in cents."""

SURCHARGE_CENTS = {"eu": 490, "us": 990, "uk": 590}


def with_surcharge(region, subtotal_cents):
    return subtotal_cents + SURCHARGE_CENTS.get(region.lower())
