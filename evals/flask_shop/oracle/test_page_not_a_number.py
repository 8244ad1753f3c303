"""A page that is not a number is a client error (or the first page), not a crash."""


def test_a_page_that_is_not_a_number_is_not_a_server_error(client):
    for page in ("two", "2.0", "last"):
        assert client.get(f"/orders?page={page}").status_code < 500


def test_numbered_pages_still_work(client):
    from shop import orders

    for total in range(7):
        orders.add_order(total)
    assert len(client.get("/orders?page=2").get_json()) == 2
