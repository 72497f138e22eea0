"""What the sync client puts on the wire: the same headers whether or not a call adds its own."""

from __future__ import annotations

from holysheep import HolySheepClient

from tests.hostile import HostileUpstream, completion, json_response

MESSAGES = [{"role": "user", "content": "hi"}]


def test_default_and_extra_headers_reach_the_relay_on_every_call() -> None:
    with HostileUpstream() as up, HolySheepClient(
        api_key="sk-wire-key", base_url=up.base_url, default_headers={"x-team": "blue"}
    ) as client:
        client.chat(model="gpt-4.1", messages=MESSAGES)
        client.chat(model="gpt-4.1", messages=MESSAGES, extra_headers={"x-team": "red"})
        client.chat(model="gpt-4.1", messages=MESSAGES)
        first, extra, again = (r.headers for r in up.received)
    assert first["authorization"] == "Bearer sk-wire-key"
    assert first["x-team"] == "blue" and again["x-team"] == "blue"
    assert extra["x-team"] == "red" and extra["authorization"] == "Bearer sk-wire-key"
    assert first["user-agent"].startswith("holysheep-python/")
    assert first["accept-encoding"] == "gzip, deflate"
    assert first["content-type"] == "application/json"
    assert first == again


def test_a_cookie_the_relay_sets_is_sent_back_on_the_next_call() -> None:
    with HostileUpstream() as up, HolySheepClient(api_key="k", base_url=up.base_url) as client:
        up.answer(json_response(completion("ok"), headers={"Set-Cookie": "lb=node-3; Path=/"}))
        client.chat(model="gpt-4.1", messages=MESSAGES)
        client.chat(model="gpt-4.1", messages=MESSAGES)
        first, second = (r.headers for r in up.received)
    assert "cookie" not in first
    assert second["cookie"] == "lb=node-3"
