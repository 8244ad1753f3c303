"""An unknown coupon is refused (4xx) or ignored (full price), never a crash."""

ITEMS = [{"sku": "SKU-1001", "qty": 2}, {"sku": "SKU-1002"}]


def test_an_unknown_coupon_does_not_crash(client):
    answer = client.post("/cart/price", json={"items": ITEMS, "coupon": "FREESHIP"})
    assert answer.status_code < 500
    if answer.status_code == 200:
        assert answer.get_json()["total_cents"] == 5430


def test_a_known_coupon_still_applies(client):
    answer = client.post("/cart/price", json={"items": ITEMS, "coupon": "WELCOME10"})
    assert answer.get_json()["total_cents"] == 4887
