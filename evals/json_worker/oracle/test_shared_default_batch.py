"""Each audit message is handled on its own: no event from an earlier message is seen again."""

import json
import logging


def test_audit_events_are_not_replayed(caplog):
    from worker import handlers

    caplog.set_level(logging.WARNING, logger="worker.handlers")
    for number in range(5):
        body = json.dumps({"id": f"ev-oracle-{number}", "action": "login"}).encode()
        assert handlers.handle(handlers.Message(f"j-{number}", body, "audit"), None) == "audited"
    assert "Duplicate event" not in caplog.text
