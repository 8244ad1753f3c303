"""Reports over orders, filtered by a JSON spec in the path."""

import json

from fastapi import APIRouter, HTTPException

from app.db import ORDERS_BY_USER

router = APIRouter(prefix="/reports")


@router.get("/{spec}")
async def report(spec: str):
    filters = json.loads(spec)
    if not isinstance(filters, dict):
        raise HTTPException(status_code=422, detail="the spec must be a JSON object")
    minimum = int(filters.get("min_cents", 0))
    rows = [
        {"user": user, **order}
        for user, orders in sorted(ORDERS_BY_USER.items())
        for order in orders
        if order["total_cents"] >= minimum
    ]
    return {"rows": rows, "count": len(rows)}
