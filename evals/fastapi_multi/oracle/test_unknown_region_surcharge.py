"""A region without a surcharge is refused (4xx) or quoted without one, never a crash."""


def test_an_unknown_region_does_not_crash(client):
    answer = client.get("/quotes/shipping", params={"region": "ca", "subtotal_cents": 2500})
    assert answer.status_code < 500
    if answer.status_code == 200:
        assert answer.json()["total_cents"] >= 2500


def test_known_regions_keep_their_surcharge(client):
    answer = client.get("/quotes/shipping", params={"region": "EU", "subtotal_cents": 1000})
    assert answer.json() == {"total_cents": 1490}
