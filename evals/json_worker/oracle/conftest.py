"""Oracles import the worker from the checkout under evaluation ($MENDBOT_EVAL_REPO)."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.environ["MENDBOT_EVAL_REPO"])


@pytest.fixture(autouse=True)
def outbox(tmp_path, monkeypatch):
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("WORKER_SPOOL_FILE", str(path))
    return path


def customer(number, email="x@example.com", encoding="utf-8"):
    from worker.handlers import Message

    record = {"id": number, "name": "Jürgen Müller", "email": email}
    return Message(f"j-{number}", json.dumps(record, ensure_ascii=False).encode(encoding))
