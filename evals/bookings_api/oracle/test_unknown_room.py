def test_unknown_room_is_a_client_error(client):
    assert 400 <= client.get("/rooms/nowhere").status_code < 500
    assert client.get("/rooms/r-201").json()["name"] == "Douro"
