def test_a_limit_that_is_not_a_number_is_a_client_error(client):
    assert 400 <= client.get("/bookings?limit=ten").status_code < 500
    assert client.get("/bookings?limit=3").status_code == 200
