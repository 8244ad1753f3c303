def test_forecast_is_served(client):
    answer = client.get("/rooms/r-201/forecast")
    assert answer.status_code == 200
    assert answer.json()["summary"] == "sunny"
