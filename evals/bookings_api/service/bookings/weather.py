"""Forecasts for a room's city (an upstream service in production, computed here)."""

import asyncio

from bookings.data import CITIES


async def fetch_forecast(city_key):
    await asyncio.sleep(0)
    city = CITIES[city_key]
    summary = "sunny" if city.latitude < 45 else "cloudy"
    return {"city": city.name, "summary": summary, "high_c": round(30 - city.latitude / 3)}
