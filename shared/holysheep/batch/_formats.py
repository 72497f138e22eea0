"""Bulk-job files: the OpenAI Batch API's JSONL lines in and out, plus a short input form.

Input lines are ``{"custom_id", "method", "url", "body"}`` (OpenAI) or ``{"custom_id",
"messages", "model", "task", ...}`` (short); output lines are OpenAI's ``{"id", "custom_id",
"response": {"status_code", "request_id", "body"}, "error"}``. Files are read and written one
line at a time, so a million-line input never sits in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from holysheep.errors import APIError, BadRequestError, HolySheepError

from ._model import BatchRequest, BatchResult

__all__ = [
    "CHAT_URL",
    "InputError",
    "body_hash",
    "parse_request",
    "read_requests",
    "result_line",
]

CHAT_URL = "/v1/chat/completions"
"""The only Batch API endpoint a relay job runs (OpenAI also accepts it without ``/v1``)."""
_URLS = frozenset({CHAT_URL, "/chat/completions"})
_OWN_KEYS = ("custom_id", "task", "app", "metadata", "method", "url")
_DROPPED = ("stream", "stream_options")  # a job reads whole answers
_NO_TAGS: Mapping[str, str] = MappingProxyType({})
"""The tags of a request without metadata (shared: one empty dict less per request)."""
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode
"""``body_hash``'s serializer, built once (``json.dumps`` builds an encoder per call)."""


@dataclass(frozen=True, slots=True)
class InputError:
    """An input line that is not a request: reported as that request's error, the rest runs."""

    custom_id: str
    seq: int
    line: int | None
    message: str

    def result(self) -> BatchResult:
        """The failed result for this line."""
        return BatchResult(
            self.custom_id,
            error=BadRequestError(self.message, code="invalid_batch_line"),
            seq=self.seq,
            line=self.line,
        )


def _where(seq: int, line: int | None) -> str:
    return f"line {line}" if line is not None else f"request {seq}"


def parse_request(
    item: Any, seq: int, *, line: int | None = None, model: str | None = None
) -> BatchRequest | InputError:
    """One input item (a dict in either form) as a request, or the reason it is not one."""
    return _parse(item, seq, line, model, owned=False)


def _parse(item: Any, seq: int, line: int | None, model: str | None, *, owned: bool
           ) -> BatchRequest | InputError:
    """``parse_request``; ``owned``: ``item`` is a dict of ours (a parsed file line) that may
    become the body itself instead of a copy."""
    if type(item) is not dict and not isinstance(item, Mapping):
        where = _where(seq, line)
        return InputError(f"line-{line or seq}", seq, line, f"{where}: expected a JSON object "
                          f"with custom_id and messages (got {type(item).__name__})")
    custom_id = item.get("custom_id")
    if type(custom_id) is not str:
        if isinstance(custom_id, int) and not isinstance(custom_id, bool):
            custom_id = str(custom_id)
        elif not isinstance(custom_id, str):
            custom_id = None
    if not custom_id:
        return InputError(f"line-{line or seq}", seq, line, f"{_where(seq, line)}: no custom_id; "
                          'give each request a unique "custom_id" string')
    metadata, task, app = item.get("metadata"), item.get("task"), item.get("app")
    problem: str | None = None
    if "body" in item or "url" in item:
        body, problem = _openai_body(item)
    else:  # the short form: the item less our own keys (few are ever there)
        body = item if owned and type(item) is dict else dict(item)
        for name in _OWN_KEYS:
            if name in body:
                del body[name]
    if problem is None and not isinstance(body.get("messages"), list):
        problem = 'no "messages" list; give [{"role": "user", "content": "..."}]'
    if problem is not None:
        return InputError(custom_id, seq, line, f"{_where(seq, line)} ({custom_id}): {problem}")
    for name in _DROPPED:
        if name in body:
            del body[name]
    if not body.get("model"):
        body["model"] = model or "auto"
    tags = ({str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, Mapping)
            else _NO_TAGS)
    return BatchRequest(
        custom_id, body, seq,
        task=task if isinstance(task, str) else None,
        app=app if isinstance(app, str) else None,
        tags=tags,
        line=line,
    )


def _openai_body(item: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The body of an OpenAI Batch API line, or what is wrong with the line."""
    method = str(item.get("method") or "POST").upper()
    url = item.get("url") or CHAT_URL
    if method != "POST" or url not in _URLS:
        return {}, f"{method} {url} is not supported: a relay job runs POST {CHAT_URL} only"
    body = item.get("body")
    if not isinstance(body, Mapping):
        return {}, '"body" must be a JSON object (the chat-completions request)'
    return dict(body), None


def read_requests(
    path: str | os.PathLike[str], *, model: str | None = None
) -> Iterator[BatchRequest | InputError]:
    """Requests of a JSONL file, one line at a time; blank lines are skipped, bad ones reported."""
    seq = 0
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except ValueError as exc:  # UnicodeDecodeError is a ValueError too
                yield InputError(f"line-{number}", seq, number,
                                 f"line {number}: not valid JSON ({_short(exc)})")
            else:
                yield _parse(item, seq, number, model, owned=True)
            seq += 1


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 120 else text[:117] + "..."


def body_hash(request: BatchRequest) -> str:
    """The identity of a request's work: its body and task as canonical JSON, hashed.

    Two requests with the same hash would get the same answer from one call (dedup).
    """
    canonical = _CANONICAL({"body": request.body, "task": request.task})
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def result_line(result: BatchResult) -> bytes:
    """One output line in the OpenAI Batch API's format (with a trailing newline)."""
    line: dict[str, Any] = {"id": f"batch_req_{result.custom_id}", "custom_id": result.custom_id}
    if result.error is None and result.completion is not None:
        info = result.call_info
        line["response"] = {
            "status_code": 200,
            "request_id": getattr(info, "request_id", None) or "",
            "body": result.completion.model_dump(mode="json", exclude_none=True),
        }
        line["error"] = None
    else:
        error = result.error or HolySheepError("no answer")
        status = error.status_code if isinstance(error, APIError) else None
        code = error.code or _code_of(error)
        line["response"] = None if status is None else {
            "status_code": status,
            "request_id": error.request_id or "",
            "body": {"error": {"message": error.message, "type": type(error).__name__,
                               "code": code}},
        }
        line["error"] = {"code": code, "message": error.message}
    return json.dumps(line, ensure_ascii=False).encode("utf-8", "replace") + b"\n"


def _code_of(error: HolySheepError) -> str:
    """``RateLimitError`` -> ``rate_limit_error`` (a code for errors that carry none)."""
    name = type(error).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
