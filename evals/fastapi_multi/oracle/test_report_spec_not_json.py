"""A report spec that is not JSON is a client error (4xx), not a crash."""

import json


def test_a_spec_that_is_not_json_is_a_client_error(client):
    for spec in ("min_cents=500", "{min_cents:500}", "all"):
        assert 400 <= client.get(f"/reports/{spec}").status_code < 500


def test_a_json_spec_still_works(client):
    body = client.get("/reports/" + json.dumps({"min_cents": 4000})).json()
    assert all(row["total_cents"] >= 4000 for row in body["rows"])
