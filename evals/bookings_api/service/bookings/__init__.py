"""Room bookings API."""
