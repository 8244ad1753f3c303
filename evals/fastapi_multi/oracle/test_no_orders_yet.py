"""A user without orders has no last order (404, or 200 with null), not a crash."""


def test_a_user_without_orders(client):
    answer = client.get("/users/u-104/last-order")
    assert answer.status_code in (200, 204, 404)
    if answer.status_code == 200:
        assert not answer.json()


def test_a_user_with_orders_still_gets_the_last(client):
    assert client.get("/users/u-100/last-order").json()["id"] == "o-7"
