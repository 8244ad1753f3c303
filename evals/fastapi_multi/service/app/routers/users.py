"""Users and their orders."""

import logging

from fastapi import APIRouter, Header, HTTPException

from app.db import IDEMPOTENCY_KEYS, ORDERS_BY_USER, USERS
from app.services import profiles

log = logging.getLogger("app.users")
router = APIRouter(prefix="/users")


@router.get("/{user_id}")
async def get_user(user_id: str):
    user = USERS[user_id]
    return {"id": user["id"], "name": user["name"]}


@router.get("/{user_id}/last-order")
async def last_order(user_id: str):
    if user_id not in USERS:
        raise HTTPException(status_code=404, detail="unknown user")
    orders = ORDERS_BY_USER.get(user_id, [])
    return orders[-1]


@router.get("/{user_id}/greeting")
async def greeting(user_id: str):
    profile = profiles.load_profile(user_id)
    return {"greeting": f"Welcome back, {profile['display_name']}!"}


@router.post("/{user_id}/orders")
async def place_order(user_id: str, order: dict, idempotency_key: str = Header(...)):
    if idempotency_key in IDEMPOTENCY_KEYS:
        log.info("Duplicate request %s ignored (idempotency key already used)", idempotency_key)
        return {"status": "duplicate"}
    IDEMPOTENCY_KEYS.add(idempotency_key)
    ORDERS_BY_USER.setdefault(user_id, []).append(order)
    return {"status": "created"}
