"""Stock levels from the inventory service."""

import logging
import os

import httpx

log = logging.getLogger("app.inventory")
INVENTORY_TIMEOUT_SECONDS = 0.25


def stock_level(sku):
    url = os.environ.get("INVENTORY_URL", "http://127.0.0.1:9") + f"/stock/{sku}"
    try:
        response = httpx.get(url, timeout=INVENTORY_TIMEOUT_SECONDS)
    except httpx.TimeoutException:
        log.warning("Inventory lookup for %s timed out after %.2fs", sku, INVENTORY_TIMEOUT_SECONDS)
        return None
    return response.json()["available"]
