"""Oracles import the API from the checkout under evaluation ($MENDBOT_EVAL_REPO)."""

import os
import sys

import pytest

sys.path.insert(0, os.environ["MENDBOT_EVAL_REPO"])


@pytest.fixture
def client():
    from app.main import app
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False)
