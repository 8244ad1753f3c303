"""The payment provider's client."""

import os

import httpx

PROVIDER_URL = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:9/charge")


def charge(booking_id, amount_cents):
    response = httpx.post(
        PROVIDER_URL, json={"reference": booking_id, "amount": amount_cents}, timeout=2.0
    )
    response.raise_for_status()
    return response.json()["charge_id"]
