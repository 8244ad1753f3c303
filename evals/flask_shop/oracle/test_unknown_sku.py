"""An unknown SKU is a client error (404 or another 4xx), not a crash; known ones still work."""


def test_an_unknown_sku_is_a_client_error(client):
    for sku in ("SKU-2001", "sku-1001"):
        assert 400 <= client.get(f"/products/{sku}").status_code < 500


def test_a_known_sku_is_still_served(client):
    assert client.get("/products/SKU-1001").get_json()["name"] == "Espresso beans 1kg"
