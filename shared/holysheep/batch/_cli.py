"""``holysheep batch``: run a JSONL file of requests through the relay, resumably.

``holysheep batch in.jsonl -o out.jsonl`` writes one OpenAI Batch API output line per request,
keeps a journal beside the output (re-running the same command resumes), shows progress, and
exits non-zero only when requests failed. ``--status`` shows a job's progress from its journal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from decimal import Decimal
from typing import Any

__all__ = ["cmd_batch", "register"]


def register(subparsers: Any) -> None:
    """Add the ``batch`` sub-command to the ``holysheep`` parser's subparsers."""
    batch = subparsers.add_parser("batch", help=cmd_batch.__doc__)
    batch.add_argument("input", nargs="?", default=None,
                       help="JSONL requests (OpenAI Batch API lines or custom_id + messages)")
    batch.add_argument("-o", "--output", default=None, help="JSONL results (OpenAI Batch format)")
    batch.add_argument("--model", default=None,
                       help="model of lines that name none (default: auto, routed per request)")
    batch.add_argument("--concurrency", type=_positive, default=None,
                       help="calls in flight per model (default: from the catalogue)")
    batch.add_argument("--budget", default=None, help="cap the job: USD (5.00) or CNY ('300 CNY')")
    batch.add_argument("--journal", default=None,
                       help="path, sqlite:///path or redis://host:port/db (default: beside -o)")
    batch.add_argument("--job", default=None, help="the job's name (needed with a Redis journal)")
    batch.add_argument("--no-dedup", action="store_true", help="send identical requests each time")
    batch.add_argument("--ordered", action="store_true", help="write results in input order")
    batch.add_argument("--status", action="store_true", help="show the job's progress and exit")
    batch.add_argument("--lease", type=float, default=30.0,
                       help="Redis: seconds before a dead worker's requests are taken over")
    batch.set_defaults(run=cmd_batch)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("give 1 or more")
    return value


def _journal(args: argparse.Namespace) -> str:
    from ._journal import default_journal_path

    if args.journal:
        return str(args.journal)
    if not args.output:
        raise _usage("give -o OUT.jsonl (the journal is kept beside it) or --journal")
    return str(default_journal_path(args.output))


def _usage(message: str) -> Exception:
    from holysheep.errors import ConfigurationError

    return ConfigurationError(f"holysheep batch: {message}")


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a JSONL file of chat requests as a resumable, deduplicated bulk job."""
    if args.status:
        return _status(args)
    if not args.input or not args.output:
        raise _usage("usage: holysheep batch IN.jsonl -o OUT.jsonl [options]")
    if os.path.abspath(args.input) == os.path.abspath(args.output):
        raise _usage("the output must be another file than the input")
    if _journal(args).startswith(("redis://", "rediss://", "unix://")) and not args.job:
        # refused before the output file is created, not on the job's first read
        raise _usage("a Redis journal is shared by many workers: name the job with --job NAME, "
                     "the same name in every worker")
    from holysheep import HolySheepClient

    from ._progress import Progress, count_lines

    progress = Progress(count_lines(args.input))
    client = HolySheepClient(api_key=args.api_key, base_url=args.base_url)
    try:
        summary = asyncio.run(_run(client, args, progress))
    except KeyboardInterrupt:
        progress.close()
        print("interrupted: finished requests are in the journal; run the same command to "
              "resume", file=sys.stderr)
        return 130
    finally:
        progress.close()
        client.close()
    print(summary.describe(), file=sys.stderr)
    if summary.unsent:
        print(f"{summary.unsent} requests were left unsent by the budget: raise --budget and "
              "run the same command to send them", file=sys.stderr)
    return 1 if summary.failed else 0


async def _run(client: Any, args: argparse.Namespace, progress: Any) -> Any:
    from ._formats import result_line

    run = client.abatch(
        args.input, concurrency=args.concurrency, budget=args.budget, journal=_journal(args),
        job=args.job, dedup=not args.no_dedup, ordered=args.ordered, model=args.model,
        lease_s=args.lease,
    )
    try:
        with open(args.output, "wb") as out:  # rewritten whole: the journal replays what is done
            async for result in run:
                out.write(result_line(result))
                progress.update(run.summary)
    finally:
        await client.aclose()
    progress.update(run.summary, force=True)
    return run.summary


def _status(args: argparse.Namespace) -> int:
    """Print a job's progress from its journal."""
    from ._journal import open_journal

    journal = open_journal(_journal(args), args.job)
    try:
        state = journal.progress()
    finally:
        journal.close()
    total = state["total"]
    done = state["succeeded"]
    of = f" of {total:,}" if total is not None else ""
    share = f" ({done / total:.0%})" if total else ""
    spent = Decimal(state["spent_usd"])
    print(
        f"job {args.job or 'default'} in {journal.url}: {done:,}{of} requests answered{share}, "
        f"{state['failed']:,} failed (tried again on the next run); spent ${spent:.6f}"
    )
    return 0
