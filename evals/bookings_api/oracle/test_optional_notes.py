def test_a_booking_without_notes_is_created(client):
    answer = client.post("/bookings", json={"room_id": "r-101", "guests": 2})
    assert answer.status_code == 201
    assert not answer.json().get("notes")
