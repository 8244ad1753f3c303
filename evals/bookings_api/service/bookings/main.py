"""The bookings app: rooms, bookings, weather for a city, checkout."""

import logging

from fastapi import FastAPI, HTTPException, Request

from bookings import payments
from bookings.data import CITIES, ROOMS
from bookings.rooms import router as rooms_router

logger = logging.getLogger("bookings")
app = FastAPI(title="bookings")
app.include_router(rooms_router)

_next_id = [1000]


@app.get("/health")
def health():
    return {"ok": True}


@app.post("/bookings", status_code=201)
def create_booking(payload: dict):
    room = ROOMS.get(payload.get("room_id"))
    if room is None:
        raise HTTPException(status_code=404, detail="no such room")
    guests = int(payload.get("guests", 1))
    if guests > room.capacity:
        raise HTTPException(status_code=409, detail="room too small")
    notes = payload["notes"].strip()
    _next_id[0] += 1
    booking = {"id": f"b-{_next_id[0]}", "guests": guests, "notes": notes}
    room.bookings.append(booking)
    logger.info("booking %s created for room %s", booking["id"], room.room_id)
    return booking


@app.get("/bookings")
def list_bookings(request: Request):
    limit = int(request.query_params.get("limit", "20"))
    everything = [b for room in ROOMS.values() for b in room.bookings]
    return {"bookings": everything[:limit], "total": len(everything)}


@app.get("/weather")
def city_weather(city: str):
    found = CITIES.get(city.lower())
    return {"city": found.name, "timezone": found.timezone, "lat": found.latitude}


@app.post("/checkout/{booking_id}")
def checkout(booking_id: str):
    charge_id = payments.charge(booking_id, 12_000)
    logger.info("booking %s paid (%s)", booking_id, charge_id)
    return {"booking": booking_id, "charge": charge_id}
