"""The ``holysheep`` command: models, chat, route, report, estimate, emulate, demo.

Every command that talks to the relay uses ``HOLYSHEEP_API_KEY``/``HOLYSHEEP_BASE_URL``;
``demo`` falls back to the embedded emulator when no key is set, so it runs offline. No traceback
reaches the user: every failure is one line on stderr (key scrubbed) and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import CallInfo

__all__ = ["main"]


def _client(args: argparse.Namespace):
    from . import HolySheepClient

    return HolySheepClient(api_key=args.api_key, base_url=args.base_url)


def cmd_models(args: argparse.Namespace) -> int:
    """List the models the relay serves, with catalogue prices where known."""
    with _client(args) as client:
        served = client.list_models()
        catalog = client.catalog
    print(f"{'model':32} {'in $/M':>8} {'cached':>8} {'out $/M':>8} {'context':>10}")
    for info in sorted(served, key=lambda m: m.id):
        spec = catalog.find(info.id)
        if spec is None or not spec.priced:
            print(f"{info.id:32} {'?':>8} {'?':>8} {'?':>8} {'?':>10}")
            continue
        print(
            f"{info.id:32} {spec.input_usd_per_mtok:>8} {spec.cached_input_usd_per_mtok:>8} "
            f"{spec.output_usd_per_mtok:>8} {spec.context_window:>10,}"
        )
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Send one prompt, stream the answer, print usage and cost, and record it in the ledger."""
    from . import HolySheepClient

    with _cli_ledger_or_none(args) as ledger, HolySheepClient(
        api_key=args.api_key, base_url=args.base_url, ledger=ledger, on_ledger_error="allow"
    ) as client:
        messages = [{"role": "user", "content": args.prompt}]
        stream = client.stream(model=args.model, app="holysheep-cli", messages=messages)
        with stream:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta is not None and isinstance(choice.delta.content, str):
                        print(choice.delta.content, end="", flush=True)
        print()
        _print_cost(stream.call_info)
        if ledger is not None:
            print(f"(recorded in {ledger.url}; see: holysheep report)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _cli_ledger_or_none(args: argparse.Namespace) -> Iterator[Any]:
    """The command line's ledger (``--ledger``, else the default one), or None with
    ``--no-record``; a ledger that cannot be opened is reported and the chat goes on without it."""
    if args.no_record:
        yield None
        return
    from ._cli_ledger import default_cli_ledger_url
    from .errors import HolySheepError
    from .ledger import CostLedger

    url = args.ledger or default_cli_ledger_url()
    try:
        ledger = CostLedger(url)
    except (HolySheepError, ValueError, OSError) as exc:
        print(f"holysheep chat: not recording this call ({exc})", file=sys.stderr)
        yield None
        return
    with ledger:
        yield ledger


def _print_cost(info: CallInfo | None) -> None:
    """Usage and cost as the core priced them (the call is never priced twice)."""
    from ._money_text import money_text

    usage = info.usage if info is not None else None
    if info is None or usage is None:
        print("(the relay reported no usage)", file=sys.stderr)
        return
    line = (
        f"[{info.model}] {usage.prompt_tokens} prompt ({usage.cached_tokens} cached) + "
        f"{usage.completion_tokens} completion tokens"
    )
    cost = info.cost
    if cost is not None:
        line += (
            f" = ${money_text(cost.total_usd, 6)}; relay ¥{money_text(cost.relay_cny)} vs direct "
            f"¥{money_text(cost.direct_cny)} (saves {cost.savings_ratio:.0%})"
        )
    else:
        line += "; price unknown (the model is not in the catalogue)"
    if info.estimated:
        line += " (estimated: the relay reported no usage)"
    print(line, file=sys.stderr)


def cmd_estimate(args: argparse.Namespace) -> int:
    """Monthly cost of a workload mix: ``MODEL=TOKENS`` or ``model:requests:in:out[:cached]``."""
    from decimal import Decimal

    from . import _cli_ledger
    from .costs import SAMPLE_WORKLOAD, Workload, estimate_monthly, format_estimate_table

    if any("=" in item for item in args.workload):  # monthly output tokens per model
        try:
            print(
                _cli_ledger.estimate_tokens_mix(
                    args.workload, as_json=args.json, market_rate=Decimal(args.market_rate)
                )
            )
        except (ValueError, ArithmeticError) as exc:
            print(f"holysheep estimate: {_estimate_problem(exc)}", file=sys.stderr)
            return 2
        return 0
    try:
        lines = [Workload.parse(item) for item in args.workload] or list(SAMPLE_WORKLOAD)
        estimate = estimate_monthly(lines, market_cny_per_usd=Decimal(args.market_rate))
    except (ValueError, ArithmeticError) as exc:
        print(f"holysheep estimate: {_estimate_problem(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print(_cli_ledger.estimate_json(estimate))
        return 0
    if not args.workload:
        print(
            "A SAMPLE mix (no workload given): pass your own as MODEL=TOKENS (monthly output\n"
            "tokens, e.g. gpt-4.1=2M) or model:requests:input:output[:cached] per request.\n"
        )
    print(format_estimate_table(estimate))
    return 0


def _estimate_problem(exc: Exception) -> str:
    """A readable reason for a workload that cannot be priced (``1e400`` tokens, ``--market-rate
    x``): decimal and overflow errors carry no useful text of their own."""
    if isinstance(exc, ValueError) and not isinstance(exc, ArithmeticError) and str(exc):
        return str(exc)
    return (
        "a number in the workload or --market-rate is out of range or not a number; give "
        "finite amounts such as gpt-4.1=6M or gpt-4.1:1000:500:200, and --market-rate 7.3"
    )


def cmd_emulate(args: argparse.Namespace) -> int:
    """Serve the relay emulator on loopback until Ctrl-C: any key works, each request is logged."""
    from .testing.emulator import serve

    return serve(args)


@contextlib.contextmanager
def _relay_for_demo() -> Iterator[object | None]:
    """None (the real relay) when HOLYSHEEP_API_KEY is set, else a running emulator."""
    if os.environ.get("HOLYSHEEP_API_KEY"):
        yield None
        return
    from .testing import RelayEmulator

    with RelayEmulator() as relay:
        yield relay


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the package end to end: models, a chat, a stream, a retry, and what it all cost."""
    from .demo import run_demo

    with _relay_for_demo() as emulator:
        return run_demo(emulator, api_key=args.api_key, base_url=args.base_url)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help with each option's default (when it has one worth showing) and no RST backticks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)

    def _expand_help(self, action: argparse.Action) -> str:
        return _plain_text(super()._expand_help(action))

    def _format_text(self, text: str) -> str:
        return super()._format_text(_plain_text(text))


def _plain_text(text: str) -> str:
    """Docstring markup for a terminal: ``code`` becomes 'code'."""
    return text.replace("``", "'")


def _describe_subcommands(sub: argparse._SubParsersAction) -> None:
    """Give every sub-command's ``--help`` a description (its one-line help) and our formatter."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        parser.formatter_class = _HelpFormatter
        if not parser.description and helps.get(name):
            parser.description = helps[name]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="holysheep",
        description=__doc__.splitlines()[0],
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--api-key", default=None, help="defaults to $HOLYSHEEP_API_KEY")
    parser.add_argument("--base-url", default=None, help="defaults to $HOLYSHEEP_BASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("models", help=cmd_models.__doc__).set_defaults(run=cmd_models)
    chat = sub.add_parser("chat", help=cmd_chat.__doc__)
    chat.add_argument("prompt", help="what to ask")
    chat.add_argument("--model", "-m", default="deepseek-v3.2", help="model id on the relay")
    chat.add_argument(
        "--ledger",
        default=None,
        help="ledger URL to record into (default: $HOLYSHEEP_LEDGER, else the command line's "
        "SQLite file that 'holysheep report' reads)",
    )
    chat.add_argument("--no-record", action="store_true", help="do not record the call")
    chat.set_defaults(run=cmd_chat)
    estimate = sub.add_parser("estimate", help=cmd_estimate.__doc__)
    estimate.add_argument(
        "workload",
        nargs="*",
        help="model:requests:input:output[:cached], or MODEL=TOKENS (monthly output tokens: 6M); "
        "none: a sample mix",
    )
    estimate.add_argument("--market-rate", default="7.3", help="market CNY per USD")
    estimate.add_argument("--json", action="store_true", help="print JSON")
    estimate.set_defaults(run=cmd_estimate)
    emulate = sub.add_parser("emulate", help=cmd_emulate.__doc__)
    from .testing.emulator import add_arguments as emulator_arguments

    emulator_arguments(emulate)
    emulate.set_defaults(run=cmd_emulate)
    sub.add_parser("demo", help=cmd_demo.__doc__).set_defaults(run=cmd_demo)
    from . import _cli_ledger, _cli_route

    _cli_ledger.register(sub)  # report
    _cli_route.register(sub)  # route
    from .batch import _cli as _cli_batch

    _cli_batch.register(sub)  # batch (bulk jobs)
    _describe_subcommands(sub)  # last: covers every sub-command added above
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``holysheep`` script: one line on stderr and a non-zero exit on failure.

    Output piped into a reader that stops early (``| head``) ends quietly, as ``yes | head`` does.
    """
    from .errors import HolySheepError

    args = build_parser().parse_args(argv)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        return 130
    except HolySheepError as exc:
        return _fail(str(exc))
    except OSError as exc:  # a file named on the command line: missing, a directory, no access
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{':' if where else ''}{where}; check the path")
    except Exception as exc:  # a bug: still one line, and the details for a report at debug level
        logging.getLogger("holysheep").debug("holysheep %s failed", args.command, exc_info=True)
        return _fail(
            f"unexpected {type(exc).__name__}: {exc}. This is a bug in holysheep; please report "
            "it with the command you ran"
        )


def _fail(message: str) -> int:
    """Print ``holysheep: message`` on stderr (the key scrubbed) and return exit status 1."""
    from ._secrets import scrub

    with contextlib.suppress(BrokenPipeError, ValueError):
        print(f"holysheep: {scrub(message)}", file=sys.stderr)
    return 1


def _quiet_broken_pipe() -> int:
    """The reader closed stdout: point it at /dev/null so the final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for `yes | head`


if __name__ == "__main__":
    raise SystemExit(main())
