"""vcrpy set-up shared by every cassette test: readable YAML, secrets scrubbed, strict playback.

JSON bodies are stored parsed (reviewable diffs, as pydantic-ai does); SSE bodies verbatim.
Playback (the default, and CI) uses ``record_mode="none"`` and fails on unplayed interactions.
``HOLYSHEEP_RECORD=1`` re-records: against the real relay when ``HOLYSHEEP_API_KEY`` is set,
else against a fresh ``RelayEmulator``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
import yaml

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
PLAYBACK_BASE_URL = "https://api.holysheep.ai/v1"
SCRUBBED_HEADERS = ["authorization", "api-key", "x-api-key", "cookie", "set-cookie"]
# Read at import, before the autouse fixture clears HOLYSHEEP_* for the tests themselves.
_RECORD = os.environ.get("HOLYSHEEP_RECORD") == "1"
_RECORD_KEY = os.environ.get("HOLYSHEEP_API_KEY")
_RECORD_URL = os.environ.get("HOLYSHEEP_BASE_URL", PLAYBACK_BASE_URL)


def _to_text(body: Any) -> str | None:
    if body is None:
        return None
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def _pack(body: Any) -> dict[str, Any]:
    text = _to_text(body)
    if not text:
        return {"string": text or ""}
    try:
        return {"json": json.loads(text)}
    except ValueError:
        return {"string": text}


def _unpack(stored: Any) -> bytes:
    if isinstance(stored, dict) and "json" in stored:
        return json.dumps(stored["json"], separators=(",", ":")).encode()
    if isinstance(stored, dict):
        return (stored.get("string") or "").encode()
    return (stored or "").encode()


_LOOPBACK = re.compile(r"^http://127\.0\.0\.1:\d+")


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (SSE bodies) as literal blocks, so cassettes read like the wire."""


def _str_block(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _str_block)


class ReadableYaml:
    """A vcrpy serializer: JSON bodies parsed, other bodies as text, block-style YAML."""

    @staticmethod
    def serialize(cassette: dict[str, Any]) -> str:
        out = []
        for item in cassette["interactions"]:
            request, response = dict(item["request"]), dict(item["response"])
            # Recorded against the emulator: store the relay's address, not a random port.
            request["uri"] = _LOOPBACK.sub("https://api.holysheep.ai", request["uri"])
            request["headers"] = {
                k: v for k, v in request.get("headers", {}).items() if k.lower() != "host"
            }
            request["body"] = _pack(request.get("body"))
            response["body"] = _pack(response["body"].get("string"))
            out.append({"request": request, "response": response})
        doc = {"interactions": out, "version": cassette.get("version", 1)}
        return yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)

    @staticmethod
    def deserialize(text: str) -> dict[str, Any]:
        doc = yaml.safe_load(text) or {"interactions": [], "version": 1}
        for item in doc["interactions"]:
            item["request"]["body"] = _unpack(item["request"].get("body"))
            item["response"]["body"] = {"string": _unpack(item["response"]["body"])}
        return doc


def _json_body(r1: Any, r2: Any) -> None:
    """Bodies match when they are the same JSON (key order and spacing don't matter)."""

    def parsed(body: Any) -> Any:
        text = _to_text(body) or ""
        try:
            return json.loads(text)
        except ValueError:
            return text

    assert parsed(r1.body) == parsed(r2.body)


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SCRUBBED_HEADERS:
            del headers[name]
    return response


def recording() -> bool:
    """True when the developer asked to re-record cassettes."""
    return _RECORD


def make_vcr(folder: str) -> vcr.VCR:
    """A VCR storing cassettes under ``cassettes/<folder>/``."""
    my_vcr = vcr.VCR(
        cassette_library_dir=str(CASSETTES / folder),
        record_mode="all" if recording() else "none",
        match_on=["method", "path", "json_body"],
        filter_headers=SCRUBBED_HEADERS,
        before_record_response=_scrub_response,
        serializer="readable-yaml",
        decode_compressed_response=True,
    )
    my_vcr.register_serializer("readable-yaml", ReadableYaml)
    my_vcr.register_matcher("json_body", _json_body)
    return my_vcr


@contextmanager
def relay_for_recording() -> Iterator[tuple[str, str]]:
    """(api_key, base_url) to record against: the real relay with a key, else an emulator."""
    if not recording():
        yield "playback-key-not-secret", PLAYBACK_BASE_URL
        return
    if _RECORD_KEY:
        yield _RECORD_KEY, _RECORD_URL
        return
    from holysheep.testing import RelayEmulator

    with RelayEmulator() as relay:
        yield "recording-key-not-secret", relay.base_url
