"""The confirmation e-mail of the largest cart the log shows (4 lines of items) is whole."""

LARGEST_CART = [
    {"sku": "SKU-1004", "qty": 3},
    {"sku": "SKU-1005", "qty": 2},
    {"sku": "SKU-1007", "qty": 3},
    {"sku": "SKU-1001", "qty": 3},
]


def test_the_largest_confirmation_is_not_cut():
    from shop import emails

    body = emails.confirmation(12, LARGEST_CART, 51130)
    assert body.endswith("-- The Coffee Gear Shop")
    assert "Hand grinder" in body and "Total: 511.30 EUR" in body
