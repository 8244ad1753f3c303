import os
import sys

import pytest

sys.path.insert(0, os.environ["MENDBOT_EVAL_REPO"])


@pytest.fixture
def client():
    from bookings import data
    from bookings.main import app
    from fastapi.testclient import TestClient

    data.reset()
    return TestClient(app, raise_server_exceptions=False)
