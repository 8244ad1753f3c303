"""The application: routers, access log, and a last-resort error handler."""

import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.routers import quotes, reports, users

log = logging.getLogger("app.main")
access = logging.getLogger("app.access")

app = FastAPI(title="accounts")
app.include_router(users.router)
app.include_router(reports.router)
app.include_router(quotes.router)


@app.middleware("http")
async def access_log(request: Request, call_next):
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        response = JSONResponse({"detail": "internal server error"}, status_code=500)
    took_ms = (time.perf_counter() - started) * 1000
    client = request.client.host if request.client else "-"
    access.info(
        '%s "%s %s" %d %.1fms',
        client,
        request.method,
        request.url.path,
        response.status_code,
        took_ms,
    )
    return response


@app.get("/health")
async def health():
    return {"ok": True}
