"""Credential headers in ``default_headers`` are secrets, like the key; the value is still sent."""

from __future__ import annotations

import json
import pickle

from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

from llamaindex_holysheep import HolySheep

from ..conftest import FAKE_KEY
from ..hostile import HostileUpstream
from .conftest import HELLO
from .test_llm import _Recorder

SECRET = "gw-secret-value-0123456789"
HEADERS = {"X-Api-Key": SECRET, "Proxy-Authorization": SECRET, "X-Team": "search"}


class _Events(BaseEventHandler):
    """Every instrumentation event, as JSON."""

    seen: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "_Events"

    def handle(self, event: BaseEvent, **kwargs: object) -> None:
        self.seen.append(event.model_dump_json())


def test_credential_headers_are_sent_and_never_shown() -> None:
    recorder, events = _Recorder(), _Events(seen=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(events)
    try:
        with HostileUpstream() as up:
            llm = HolySheep(
                model="gpt-4.1",
                api_key=FAKE_KEY,
                base_url=up.base_url,
                default_headers=HEADERS,
                callback_manager=CallbackManager([recorder]),
            )
            llm.chat(HELLO)
            llm.close()
            sent = up.received[-1].headers
    finally:
        dispatcher.event_handlers.remove(events)
    assert sent["x-api-key"] == sent["proxy-authorization"] == SECRET
    assert sent["x-team"] == "search"
    exposed = {
        "repr": repr(llm),
        "str": str(llm),
        "model_dump": repr(llm.model_dump()),
        "to_json": llm.to_json(),
        "to_dict": json.dumps(llm.to_dict(), default=str),
        "payload": str(llm.to_payload()),
        "callbacks": str(recorder.payloads),
        "events": "".join(events.seen),
        "pickle": pickle.dumps(llm).decode("latin-1"),
    }
    for where, text in exposed.items():
        assert SECRET not in text, where
    assert llm.to_dict()["default_headers"] == {"X-Team": "search"}
    assert pickle.loads(pickle.dumps(llm)).default_headers == {"X-Team": "search"}
