"""Geocoding through a third-party API (rate limited per API key)."""

import logging
import os

import httpx

log = logging.getLogger("app.geocoder")


def lookup(query):
    url = os.environ.get("GEOCODER_URL", "http://127.0.0.1:9/geocode")
    response = httpx.get(url, params={"q": query}, timeout=2.0)
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After", "?")
        log.warning("Geocoder rate limited us (HTTP 429, Retry-After=%s); will retry", retry_after)
        return None
    response.raise_for_status()
    return response.json()
