"""model="auto": the task label reaches the core's router, and its decision comes back.

Routing is the core's (``HolySheepClient(router=...)``); the adapter only passes the label
(per-call ``task=`` or ``config["metadata"]["task"]``) and reports the decision.
"""

from __future__ import annotations

from langchain_holysheep import get_holysheep_callback

from .conftest import ModelFactory, invoke, merged, stream


def test_task_label_routes_and_the_decision_is_reported(make_model: ModelFactory, emulator, side):
    model = make_model(model="auto")
    message = invoke(model, side, "Summarize: the relay bills in CNY.", task="summarization")
    meta = message.response_metadata
    sent = emulator.requests[-1].json["model"]
    assert sent != "auto" and meta["model_name"] == sent
    assert meta["task"] == "summarization"
    assert meta["route"].model == sent and meta["route"].task == "summarization"


def test_config_metadata_task_routes_streams_too(make_model: ModelFactory, emulator, side):
    model = make_model(model="auto")
    config = {"metadata": {"task": "translation"}}
    with get_holysheep_callback() as cb:
        full = merged(stream(model, side, "Translate to French: hello", config=config))
    assert full.response_metadata["route"].task == "translation"
    assert full.response_metadata["model_name"] == emulator.requests[-1].json["model"]
    assert cb.by_task["translation"].requests == 1
