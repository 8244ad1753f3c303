"""Room endpoints."""

from fastapi import APIRouter, HTTPException

from bookings import weather
from bookings.data import ROOMS

router = APIRouter(prefix="/rooms")


@router.get("/{room_id}")
def get_room(room_id: str):
    room = ROOMS[room_id]
    return {"id": room.room_id, "name": room.name, "city": room.city, "capacity": room.capacity}


@router.get("/{room_id}/rating")
def room_rating(room_id: str):
    room = ROOMS.get(room_id)
    if room is None:
        raise HTTPException(status_code=404, detail="no such room")
    scores = room.reviews
    average = sum(scores) / len(scores)
    return {"room": room_id, "rating": round(average, 2), "reviews": len(scores)}


@router.get("/{room_id}/last-booking")
def last_booking(room_id: str):
    if room_id not in ROOMS:
        raise HTTPException(status_code=404, detail="no such room")
    booking = ROOMS[room_id].bookings[-1]
    return {"room": room_id, "booking": booking}


@router.get("/{room_id}/forecast")
async def room_forecast(room_id: str):
    if room_id not in ROOMS:
        raise HTTPException(status_code=404, detail="no such room")
    forecast = weather.fetch_forecast(ROOMS[room_id].city)
    return {"room": room_id, "summary": forecast["summary"], "high_c": forecast["high_c"]}
