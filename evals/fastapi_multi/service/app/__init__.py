"""Accounts API: users, orders, price quotes, reports (FastAPI, several modules)."""
