"""Oracles import the shop from the checkout under evaluation ($MENDBOT_EVAL_REPO)."""

import os
import sys

import pytest

sys.path.insert(0, os.environ["MENDBOT_EVAL_REPO"])


@pytest.fixture
def client():
    from shop import create_app, orders

    orders.ORDERS.clear()
    return create_app({"TESTING": True}).test_client()
