from fastapi.testclient import TestClient

from bookings.main import app

client = TestClient(app)


def test_health():
    assert client.get("/health").json() == {"ok": True}


def test_get_room():
    assert client.get("/rooms/r-101").json()["name"] == "Rhone"


def test_rating():
    assert client.get("/rooms/r-101/rating").json()["rating"] == 4.67


def test_booking_and_listing():
    created = client.post("/bookings", json={"room_id": "r-102", "guests": 2, "notes": " late "})
    assert created.status_code == 201 and created.json()["notes"] == "late"
    listed = client.get("/bookings?limit=5").json()
    assert listed["total"] == 1
    assert client.get("/rooms/r-102/last-booking").json()["booking"]["guests"] == 2


def test_too_many_guests():
    answer = client.post("/bookings", json={"room_id": "r-102", "guests": 9, "notes": ""})
    assert answer.status_code == 409


def test_weather():
    assert client.get("/weather?city=Porto").json()["timezone"] == "Europe/Lisbon"
