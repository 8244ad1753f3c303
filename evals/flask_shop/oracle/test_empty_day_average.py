"""A day without orders has a basket average (0 or null), not a crash."""


def test_a_day_without_orders(client):
    answer = client.get("/stats/basket?day=2025-03-13")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["orders"] == 0
    assert body["average_cents"] in (0, None)


def test_a_day_with_orders_still_averages(client):
    from shop import orders

    orders.add_order(1000, day=orders.date(2024, 5, 1))
    orders.add_order(2000, day=orders.date(2024, 5, 1))
    assert client.get("/stats/basket?day=2024-05-01").get_json()["average_cents"] == 1500
