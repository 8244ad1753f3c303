"""User profiles, read from the profile store (asynchronous)."""

import asyncio

from app.db import USERS


async def load_profile(user_id):
    await asyncio.sleep(0)  # the real store is a network call
    user = USERS.get(user_id, {"name": "there"})
    return {"display_name": user["name"].split()[0]}
