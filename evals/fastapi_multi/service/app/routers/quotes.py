"""Price quotes: shipping surcharge by region, geocoding, stock."""

import logging

from fastapi import APIRouter

from app.services import geocoder, inventory, pricing

log = logging.getLogger("app.quotes")
router = APIRouter(prefix="/quotes")


@router.get("/shipping")
async def shipping(region: str, subtotal_cents: int):
    return {"total_cents": pricing.with_surcharge(region, subtotal_cents)}


@router.get("/address")
async def address(query: str):
    found = geocoder.lookup(query)
    if found is None:
        return {"status": "pending", "detail": "geocoding delayed, try again shortly"}
    return found


@router.get("/stock/{sku}")
async def stock(sku: str):
    level = inventory.stock_level(sku)
    return {"sku": sku, "available": level}
