"""The usage a finished call is billed for: the relay's own when it is believable, else an estimate.

Sans-I/O, used once per call by ``_ClientBase._call_info``. Missing usage (a stream cut or ended
by an error before its usage chunk) is estimated from the prompt and what was received; impossible
usage (not a count, more output than was allowed, a prompt beyond the window) is estimated or
clamped to what was possible, with one warning per model and problem. Either way the result is
flagged ``estimated`` so ledgers and reports can tell.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .tokens import estimate_message_tokens, estimate_tokens, estimate_tools_tokens
from .usage import Usage
from .wire import ChatCompletion, split_content

if TYPE_CHECKING:
    from .catalog import ModelSpec
    from .wire import WireUsage

__all__ = ["Billed", "ImplausibleUsageWarning", "billed_usage", "output_tokens", "prompt_tokens"]

ABSURD_TOKENS = 100_000_000
"""No model reads or writes this many tokens in one call: the bound when nothing better is known."""


class ImplausibleUsageWarning(UserWarning):
    """The relay reported usage that cannot be true; the call was recorded with an estimate."""


@dataclass(frozen=True, slots=True)
class Billed:
    """The usage to bill, whether it is estimated, and what was wrong with the relay's report."""

    usage: Usage
    estimated: bool = False
    problems: tuple[tuple[str, str], ...] = ()
    """``(kind, detail)`` pairs for usage that could not be true; empty when merely missing."""

    def warn(self, model: str) -> None:
        """One ``ImplausibleUsageWarning`` per model and kind of problem, for the process's life."""
        fresh = []
        with _warned_lock:
            for kind, detail in self.problems:
                if (model, kind) not in _warned:
                    _warned.add((model, kind))
                    fresh.append(detail)
        if fresh:
            warnings.warn(
                f"the relay reported usage for {model or 'a call'} that cannot be true "
                f"({'; '.join(fresh)}); the answer is kept and the call is recorded with an "
                "estimate (CallInfo.estimated). Report it to the relay with the request id.",
                ImplausibleUsageWarning,
                stacklevel=3,
            )


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def prompt_tokens(request: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of a request body: its messages plus its tool definitions."""
    return estimate_message_tokens(request.get("messages") or ()) + estimate_tools_tokens(
        request.get("tools")
    )


def output_tokens(completion: ChatCompletion) -> int:
    """Estimated output tokens received: text, reasoning, refusals and tool-call arguments."""
    total = 0
    for choice in completion.choices:
        message = choice.message
        text, thinking = split_content(message.content)
        pieces = [text, message.reasoning_text or thinking or "", message.refusal or ""]
        for call in message.tool_calls or ():
            pieces.append(call.function.arguments)
        total += estimate_tokens("".join(pieces))
    return total


def billed_usage(
    completion: ChatCompletion, request: Mapping[str, Any], spec: ModelSpec | None
) -> Billed:
    """What ``completion`` (the answer to ``request``) is billed for, on the model ``spec``.

    A count the relay left out (or sent as something that is no count) is estimated; a count
    beyond what the call allowed (``max_tokens`` times ``n``, else the catalogue's output limit;
    the context window for the prompt) is clamped to it.
    """
    wire = completion.usage
    problems = [(_NOT_A_COUNT, f"{name} is not a count") for name in _invalid(wire)]
    if wire is not None and wire.prompt_tokens is not None and wire.completion_tokens is not None:
        usage = Usage.from_wire(wire) or Usage()
        estimated = False
    else:  # estimate what is missing, keep what was reported
        usage, estimated = _fill_in(wire, completion, request), True

    window, allowed = _limits(request, spec)
    prompt, output = usage.prompt_tokens, usage.completion_tokens
    if prompt > window:  # the catalogue may lag a model's growth; our estimate errs high
        window = max(window, prompt_tokens(request))
    if prompt > window:
        problems.append((_BEYOND_WINDOW, f"prompt_tokens {prompt} beyond the {window} window"))
        prompt = window
    if output > allowed:  # the text received shows what was possible, if more
        allowed = max(allowed, output_tokens(completion))
    if output > allowed:
        problems.append((_ABOVE_ALLOWED, f"completion_tokens {output} above {allowed} allowed"))
        output = allowed
    if (prompt, output) != (usage.prompt_tokens, usage.completion_tokens):
        usage = Usage(
            prompt,
            output,
            prompt + output,
            min(usage.cached_tokens, prompt),
            min(usage.reasoning_tokens, output),
        )
    return Billed(usage, estimated or bool(problems), tuple(problems))


_NOT_A_COUNT, _BEYOND_WINDOW, _ABOVE_ALLOWED = "not a count", "beyond window", "above allowed"


def _invalid(wire: WireUsage | None) -> tuple[str, ...]:
    return wire.invalid_fields if wire is not None else ()


def _fill_in(
    wire: WireUsage | None, completion: ChatCompletion, request: Mapping[str, Any]
) -> Usage:
    """Usage with each missing count estimated (the prompt from the request, the output from
    what was received); a reported total is not trusted to split the rest."""
    prompt = wire.prompt_tokens if wire is not None else None
    output = wire.completion_tokens if wire is not None else None
    if prompt is None:
        prompt = prompt_tokens(request)
    if output is None:
        output = output_tokens(completion)
    reported = Usage.from_wire(wire) if wire is not None else None
    cached = min(reported.cached_tokens, prompt) if reported is not None else 0
    return Usage(prompt, output, prompt + output, cached)


def _limits(request: Mapping[str, Any], spec: ModelSpec | None) -> tuple[int, int]:
    """The largest prompt and the most output tokens the call could have been billed for."""
    choices = request.get("n")
    n = choices if isinstance(choices, int) and choices > 0 else 1
    asked = request.get("max_completion_tokens") or request.get("max_tokens")
    if isinstance(asked, int) and asked > 0:
        allowed = asked * n
    elif spec is not None:
        allowed = spec.max_output_tokens * n
    else:
        allowed = ABSURD_TOKENS
    return (spec.context_window if spec is not None else ABSURD_TOKENS), allowed
