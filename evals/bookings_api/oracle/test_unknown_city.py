def test_unknown_city_is_a_client_error(client):
    assert 400 <= client.get("/weather?city=Atlantis").status_code < 500
    assert client.get("/weather?city=graz").json()["timezone"] == "Europe/Vienna"
