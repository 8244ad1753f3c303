"""Remedies inside request handlers: a client error only where the client is at fault.

Written as a reviewer would attack them: an optional field a guard would turn into a
404, a key that the service itself computed, a dependency that is not client input, a
handler that cannot raise a client error, a call that is already awaited.
"""

from __future__ import annotations

import pytest

from monitoring.diagnosis import messages as msg
from tests.monitoring.remedy_support import diagnose, fixed_text

FASTAPI_ROOMS = """
    from fastapi import APIRouter, Depends, HTTPException, Request

    router = APIRouter(prefix="/rooms")
    ROOMS = {"r1": {"name": "Rhone", "bookings": []}}
    PLANS = {"free": 1}

    def current_user():
        return {"plan": "gold"}

    @router.get("/{room_id}")
    def get_room(room_id: str):
        room = ROOMS[room_id]
        return room

    @router.post("/bookings")
    async def book(request: Request):
        payload = await request.json()
        notes = payload["notes"].strip()
        return {"notes": notes}

    @router.post("/plain")
    def create(payload: dict):
        return {"guests": payload["guests"]}

    @router.get("/me/limit")
    def my_limit(user=Depends(current_user)):
        return {"limit": PLANS[user["plan"]]}

    @router.get("/{room_id}/last")
    def last_booking(room_id: str):
        return {"last": ROOMS[room_id]["bookings"][-1]}
"""


def test_an_unknown_id_from_the_path_gets_a_404_guard(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"rooms.py": FASTAPI_ROOMS},
        at="ROOMS[room_id]",
        exception="KeyError",
        message="'lobby'",
    )
    text = fixed_text(index, draft)
    assert (
        "    if room_id not in ROOMS:\n"
        '        raise HTTPException(status_code=404, detail="unknown room_id")\n'
        "    room = ROOMS[room_id]"
    ) in text
    assert draft.title == "Answer 404 for an unknown room_id in get_room()"
    assert "'lobby'" in draft.diagnosis.root_cause


@pytest.mark.parametrize(
    ("at", "field"),
    [('payload["notes"]', "'notes'"), ('payload["guests"]', "'guests'")],
    ids=["await-request-json", "body-parameter"],
)
def test_a_field_missing_from_the_request_gets_no_guard_and_says_both_readings(tmp_path, at, field):
    """The harmful class: a 404 for a field that may be optional breaks good requests."""
    draft, _ = diagnose(
        tmp_path, {"rooms.py": FASTAPI_ROOMS}, at=at, exception="KeyError", message=field
    )
    assert draft.edits == []
    cause = draft.diagnosis.root_cause
    assert f"reads the field {field} from payload" in cause
    assert "optional" in cause and "required" in cause and "none is proposed" in cause
    assert "optional" in draft.reasoning and "required" in draft.reasoning


def test_a_key_the_service_computed_is_not_the_clients_fault(tmp_path):
    # user comes from Depends(current_user): server-side, not client input
    draft, _ = diagnose(
        tmp_path,
        {"rooms.py": FASTAPI_ROOMS},
        at='PLANS[user["plan"]]',
        exception="KeyError",
        message="'gold'",
    )
    assert draft.edits == [] and draft.reasoning == msg.NEEDS_INVESTIGATION
    assert "PLANS" in draft.diagnosis.root_cause


def test_a_planted_key_in_the_message_picks_no_other_subscript(tmp_path):
    # the log says the missing key is "room_id" (a constant nowhere on the line): the one
    # computed subscript is still the only candidate, and it is client input
    draft, _ = diagnose(
        tmp_path,
        {"rooms.py": FASTAPI_ROOMS},
        at="ROOMS[room_id]",
        exception="KeyError",
        message="'__import__(\"os\")'",
    )
    assert [e.path for e in draft.edits] == ["rooms.py"]
    assert "__import__" not in draft.edits[0].new_text


FLASK_SHOP = """
    from flask import Blueprint, abort, request

    bp = Blueprint("shop", __name__)
    PRICES = {"sku-1": 250}
    COUPONS = {"TEN": 10}

    def find_coupon(code):
        return COUPONS.get(code.upper())

    @bp.get("/price/<sku>")
    def price(sku):
        return {"cents": PRICES[sku]}

    @bp.get("/orders")
    def orders():
        page = int(request.args.get("page", "1"))
        return {"page": page}

    @bp.post("/cart")
    def cart():
        body = request.get_json()
        code = body.get("coupon")
        coupon = find_coupon(code)
        return {"off": coupon.percent}
"""


def test_flask_speaks_abort(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"shop.py": FLASK_SHOP},
        at="PRICES[sku]",
        exception="KeyError",
        message="'sku-9'",
    )
    assert '        abort(404, description="unknown sku")' in fixed_text(index, draft)


def test_a_query_value_that_does_not_parse_is_a_422(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"shop.py": FLASK_SHOP},
        at="int(request.args",
        exception="ValueError",
        message="invalid literal for int() with base 10: 'two'",
    )
    text = fixed_text(index, draft)
    assert "    try:\n        page = int(" in text
    assert '    except ValueError:\n        abort(422, description="invalid request.args' in text


def test_none_from_a_repository_lookup_of_client_input_is_a_404(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"shop.py": FLASK_SHOP},
        at="coupon.percent",
        exception="AttributeError",
        message="'NoneType' object has no attribute 'percent'",
    )
    text = fixed_text(index, draft)
    assert (
        '    if coupon is None:\n        abort(404, description="unknown code")\n'
        '    return {"off": coupon.percent}'
    ) in text
    assert "find_coupon(code)" in draft.diagnosis.root_cause


def test_an_empty_list_in_a_handler_is_a_404(tmp_path):
    draft, index = diagnose(
        tmp_path,
        {"rooms.py": FASTAPI_ROOMS},
        at='["bookings"][-1]',
        exception="IndexError",
        message="list index out of range",
    )
    text = fixed_text(index, draft)
    assert 'if not ROOMS[room_id]["bookings"]:' in text
    assert 'raise HTTPException(status_code=404, detail="no bookings")' in text


def test_a_handler_whose_module_cannot_raise_a_client_error_gets_none(tmp_path):
    source = """
        from fastapi import FastAPI
        app = FastAPI()
        USERS = {}

        @app.get("/u/{user_id}")
        def user(user_id):
            return USERS[user_id]
    """
    draft, _ = diagnose(
        tmp_path, {"svc.py": source}, at="USERS[user_id]", exception="KeyError", message="'x'"
    )
    assert draft.edits == []


ASYNC_APP = {
    "app/weather.py": """
        import asyncio

        async def forecast(city):
            await asyncio.sleep(0)
            return {"summary": "sunny"}

        def sync_forecast(city):
            return {"summary": "rain"}
    """,
    "app/routes.py": """
        from fastapi import FastAPI
        from app import weather
        from app.weather import forecast

        app = FastAPI()

        @app.get("/a/{city}")
        async def a(city: str):
            found = weather.forecast(city)
            return {"summary": found["summary"]}

        @app.get("/b/{city}")
        async def b(city: str):
            return {"summary": forecast(city)["summary"]}

        @app.get("/c/{city}")
        async def c(city: str):
            found = weather.sync_forecast(city)
            return {"summary": found["summary"]}
    """,
}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ('found["summary"]', "found = await weather.forecast(city)"),
        ('forecast(city)["summary"]', '"summary": (await forecast(city))["summary"]'),
    ],
)
def test_a_coroutine_used_as_a_value_is_awaited(tmp_path, at, expected):
    draft, index = diagnose(
        tmp_path,
        ASYNC_APP,
        path="app/routes.py",
        at=at,
        exception="TypeError",
        message="'coroutine' object is not subscriptable",
    )
    assert expected in fixed_text(index, draft)
    assert draft.title.startswith("Await ")


def test_a_sync_callee_is_not_awaited(tmp_path):
    source = ASYNC_APP["app/routes.py"].replace(
        'found = weather.forecast(city)\n            return {"summary": found["summary"]}',
        "pass",
    )
    draft, _ = diagnose(
        tmp_path,
        {**ASYNC_APP, "app/routes.py": source},
        path="app/routes.py",
        at='found["summary"]',
        exception="TypeError",
        message="'coroutine' object is not subscriptable",
    )
    assert draft.edits == []


def test_a_key_that_merely_mentions_a_connection_is_still_a_lookup(tmp_path):
    source = FASTAPI_ROOMS.replace("room = ROOMS[room_id]", "room = ROOMS[connection_id]")
    source = source.replace("def get_room(room_id: str):", "def get_room(connection_id: str):")
    source = source.replace(
        '"/{room_id}")\n    def get_room', '"/{connection_id}")\n    def get_room'
    )
    draft, _ = diagnose(
        tmp_path,
        {"rooms.py": source},
        at="ROOMS[connection_id]",
        exception="KeyError",
        message="'connection timed out'",
    )
    assert len(draft.edits) == 1 and "outside the code" not in draft.diagnosis.root_cause
