import pytest

from shop import create_app, orders


@pytest.fixture
def client():
    orders.ORDERS.clear()
    return create_app({"TESTING": True}).test_client()


def test_a_product_is_served(client):
    answer = client.get("/products/SKU-1003")
    assert answer.status_code == 200
    assert answer.get_json()["name"] == "Ceramic dripper"


def test_orders_come_in_pages(client):
    for total in range(7):
        orders.add_order(total)
    assert len(client.get("/orders").get_json()) == 5
    assert len(client.get("/orders?page=2").get_json()) == 2


def test_a_page_below_one_is_refused(client):
    assert client.get("/orders?page=0").status_code == 400


def test_a_cart_is_priced_with_and_without_a_coupon(client):
    items = [{"sku": "SKU-1001", "qty": 2}, {"sku": "SKU-1002"}]
    assert client.post("/cart/price", json={"items": items}).get_json()["total_cents"] == 5430
    with_coupon = client.post("/cart/price", json={"items": items, "coupon": "welcome10"})
    assert with_coupon.get_json()["total_cents"] == 4887


def test_the_basket_average_of_a_day(client):
    orders.add_order(1000, day=orders.date(2024, 5, 1))
    orders.add_order(3000, day=orders.date(2024, 5, 1))
    answer = client.get("/stats/basket?day=2024-05-01").get_json()
    assert answer == {"day": "2024-05-01", "orders": 2, "average_cents": 2000}


def test_checkout_without_a_gateway_asks_to_try_later(client, monkeypatch):
    monkeypatch.setenv("PAYMENT_GATEWAY_URL", "http://127.0.0.1:9/charge")
    answer = client.post("/checkout", json={"items": [{"sku": "SKU-1002"}]})
    assert answer.status_code == 503


def test_the_confirmation_email_lists_the_order():
    from shop import emails

    body = emails.confirmation(7, [{"sku": "SKU-1002", "qty": 2}], 900)
    assert body.startswith("Thank you for your order #7.")
    assert "2 x Filter papers (100)" in body and "Total: 9.00 EUR" in body
