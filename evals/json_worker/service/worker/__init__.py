"""A queue worker: imports customer records and orders from a message queue."""
