def test_a_room_without_reviews_has_no_rating_error(client):
    answer = client.get("/rooms/r-301/rating")
    assert answer.status_code == 200
    assert answer.json()["rating"] in (0, 0.0, None)
    assert client.get("/rooms/r-101/rating").json()["rating"] == 4.67
