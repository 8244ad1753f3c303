"""In-memory data the API serves (a database in production)."""

from dataclasses import dataclass, field


@dataclass
class City:
    name: str
    latitude: float
    longitude: float
    timezone: str


@dataclass
class Room:
    room_id: str
    name: str
    city: str
    capacity: int
    reviews: list = field(default_factory=list)
    bookings: list = field(default_factory=list)


CITIES = {
    "lyon": City("Lyon", 45.76, 4.83, "Europe/Paris"),
    "porto": City("Porto", 41.15, -8.61, "Europe/Lisbon"),
    "graz": City("Graz", 47.07, 15.44, "Europe/Vienna"),
}

ROOMS = {}


def reset():
    ROOMS.clear()
    ROOMS["r-101"] = Room("r-101", "Rhone", "lyon", 8, reviews=[4, 5, 5])
    ROOMS["r-102"] = Room("r-102", "Saone", "lyon", 4, reviews=[3])
    ROOMS["r-201"] = Room("r-201", "Douro", "porto", 12, reviews=[5, 4])
    ROOMS["r-301"] = Room("r-301", "Mur", "graz", 6)


reset()
