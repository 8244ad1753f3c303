import json

from fastapi.testclient import TestClient

from app.db import ORDERS_BY_USER
from app.main import app

client = TestClient(app)


def test_a_user_is_found():
    assert client.get("/users/u-100").json() == {"id": "u-100", "name": "Ada Lovelace"}


def test_the_last_order_of_a_user():
    assert client.get("/users/u-100/last-order").json()["id"] == "o-7"


def test_the_last_order_of_an_unknown_user_is_404():
    assert client.get("/users/u-999/last-order").status_code == 404


def test_a_report_filters_by_minimum():
    spec = json.dumps({"min_cents": 1000})
    body = client.get(f"/reports/{spec}").json()
    assert body["count"] == sum(
        1 for orders in ORDERS_BY_USER.values() for o in orders if o["total_cents"] >= 1000
    )


def test_a_report_spec_must_be_an_object():
    assert client.get("/reports/[1,2]").status_code == 422


def test_a_shipping_quote_adds_the_region_surcharge():
    answer = client.get("/quotes/shipping", params={"region": "EU", "subtotal_cents": 1000})
    assert answer.json() == {"total_cents": 1490}


def test_an_order_is_created_once_per_idempotency_key():
    first = client.post(
        "/users/u-103/orders",
        json={"id": "o-9", "total_cents": 100},
        headers={"Idempotency-Key": "k-test-1"},
    )
    again = client.post(
        "/users/u-103/orders",
        json={"id": "o-9", "total_cents": 100},
        headers={"Idempotency-Key": "k-test-1"},
    )
    assert first.json() == {"status": "created"} and again.json() == {"status": "duplicate"}
