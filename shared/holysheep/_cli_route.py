"""``holysheep route``: explain a routing decision on the command line, without calling a model.

Prints the task (given or classified, with its confidence and the top scores), every candidate with
why it was kept or skipped, the chosen model, the ``max_tokens`` it would get and the estimated
cost. Only ``--llm-classifier`` talks to the relay; everything else is local and instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["cmd_route", "register"]


def register(subparsers: Any) -> None:
    """Add the ``route`` sub-command to the ``holysheep`` parser's subparsers."""
    route = subparsers.add_parser("route", help=cmd_route.__doc__)
    route.add_argument("prompt", nargs="?", default=None, help="the prompt ('-' reads stdin)")
    route.add_argument("--file", type=Path, default=None, help="read the prompt from a file")
    route.add_argument("--system", default=None, help="a system prompt to send along")
    route.add_argument("--task", "-t", default=None, help="the task label (default: classify)")
    route.add_argument("--max-tokens", type=int, default=None, help="max_tokens of the request")
    route.add_argument("--tools", action="store_true", help="the request sends tools")
    route.add_argument("--json-schema", action="store_true", help="it asks for json_schema output")
    route.add_argument("--routes", type=Path, default=None, help="a router TOML file")
    route.add_argument("--json", action="store_true", help="print the decision as JSON")
    route.add_argument(
        "--llm-classifier",
        action="store_true",
        help="classify with the cheapest model on the relay (needs HOLYSHEEP_API_KEY)",
    )
    route.set_defaults(run=cmd_route)


def _prompt(args: argparse.Namespace) -> str | None:
    if args.file is not None:
        return args.file.read_text(encoding="utf-8")
    if args.prompt == "-":
        return sys.stdin.read()
    return args.prompt


def _router(args: argparse.Namespace) -> tuple[Any, Any]:
    from .routing import LLMClassifier, TaskRouter

    client = None
    kwargs: dict[str, Any] = {}
    if args.llm_classifier:
        from . import HolySheepClient

        client = HolySheepClient(api_key=args.api_key, base_url=args.base_url)
        try:
            served = client.list_models()
            kwargs["classifier"] = LLMClassifier.from_client(client, served=served)
        except BaseException:
            client.close()  # the error reaches main(), which prints it on one line
            raise
    if args.routes is not None:
        return TaskRouter.from_toml(args.routes, **kwargs), client
    return TaskRouter(**kwargs), client


def cmd_route(args: argparse.Namespace) -> int:
    """Explain which model a prompt would be routed to, and why (no model is called)."""
    text = _prompt(args)
    if not text:
        print("holysheep route: give a prompt, '-' for stdin, or --file PATH", file=sys.stderr)
        return 2
    messages = [{"role": "user", "content": text}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    tools = [{"type": "function", "function": {"name": "tool", "parameters": {}}}]
    router, client = _router(args)
    try:
        started = time.perf_counter()
        label = router.classify(messages, with_confidence=True) if args.task is None else None
        took_ms = (time.perf_counter() - started) * 1000
        decision = router.route(
            messages,
            args.task,
            max_tokens=args.max_tokens,
            tools=tools if args.tools else None,
            json_schema=args.json_schema,
        )
    finally:
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False))
        return 0 if decision.model else 1
    if label is None:
        print(f"task: {decision.task} (given)")
    else:
        print(_header(router, messages, label, took_ms))
    print(decision.explain().split("\n", 1)[1])  # the first line repeats the task
    _print_choice(decision, router)
    return 0 if decision.model else 1


def _header(router: Any, messages: list[dict[str, Any]], result: Any, ms: float) -> str:
    from .routing._classifier import classification_text

    scores = getattr(router.classifier, "scores", None)
    line = f"task: {result.label} (confidence {result.confidence:.0%}"
    if not result.confident:
        line += f", low: {result.predicted} was unsure"
        line += "; used anyway" if result.by == "classifier" else f"; chosen by {result.by}"
    line += f"; classified in {ms:.2f} ms"
    if callable(scores):
        text = classification_text(messages)
        top = sorted(scores(text).items(), key=lambda kv: -kv[1])[:3]
        line += "; scores " + ", ".join(f"{k} {v:.2f}" for k, v in top if v >= 0.01)
    return line + ")"


def _print_choice(decision: Any, router: Any) -> None:
    from .routing._decision import format_usd

    if decision.model is None:
        return
    spec = router.catalog.get(decision.model)
    max_tokens = (
        "not sent (the caller gave none)"
        if decision.max_tokens is None
        else (f"{decision.max_tokens:,} (output cap {spec.max_output_tokens:,})")
    )
    print(f"max_tokens: {max_tokens}")
    cost = decision.estimated_cost_usd
    line = f"estimated cost: {format_usd(cost)}"
    if cost is not None:
        from .costs import DEFAULT_MARKET_CNY_PER_USD

        line += f" (relay ¥{cost:.6f}, direct ¥{cost * DEFAULT_MARKET_CNY_PER_USD:.6f})"
        if decision.max_tokens is None:
            line += "; assumes a 1,024-token reply"
    print(line)
