"""In-memory tables (the real service uses PostgreSQL; the shapes are the same)."""

USERS = {
    "u-100": {"id": "u-100", "name": "Ada Lovelace", "region": "eu"},
    "u-101": {"id": "u-101", "name": "Grace Hopper", "region": "us"},
    "u-102": {"id": "u-102", "name": "Alan Turing", "region": "uk"},
    "u-103": {"id": "u-103", "name": "Edsger Dijkstra", "region": "eu"},
    "u-104": {"id": "u-104", "name": "Barbara Liskov", "region": "us"},
}

ORDERS_BY_USER = {
    "u-100": [{"id": "o-1", "total_cents": 1200}, {"id": "o-7", "total_cents": 800}],
    "u-101": [{"id": "o-3", "total_cents": 4500}],
    "u-102": [],
}

IDEMPOTENCY_KEYS = set()
