"""The greeting uses the loaded profile (the coroutine is awaited)."""


def test_the_greeting_names_the_user(client):
    answer = client.get("/users/u-100/greeting")
    assert answer.status_code == 200
    assert answer.json() == {"greeting": "Welcome back, Ada!"}
