"""An unknown user id is a client error (4xx), not a crash; known users still load."""


def test_an_unknown_user_is_a_client_error(client):
    for user in ("u-404", "admin"):
        assert 400 <= client.get(f"/users/{user}").status_code < 500


def test_a_known_user_still_loads(client):
    assert client.get("/users/u-101").json() == {"id": "u-101", "name": "Grace Hopper"}
