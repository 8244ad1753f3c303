def test_last_booking_of_a_room_never_booked(client):
    answer = client.get("/rooms/r-301/last-booking")
    assert answer.status_code == 404 or (
        answer.status_code == 200 and not answer.json().get("booking")
    )
