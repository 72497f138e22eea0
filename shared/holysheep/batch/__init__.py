"""Bulk jobs: many chat requests through the relay, resumable, deduplicated, within a budget.

``client.batch(requests)`` / ``client.abatch(requests)`` run a job over an iterable of requests
(dicts, OpenAI Batch API lines, or a JSONL path), handing out one ``BatchResult`` per request
and a ``BatchSummary``. A journal (SQLite, or Redis for a fleet of workers) makes re-runs skip
what is finished; identical requests are sent once; each model's concurrency adapts to 429s.
"""

from ._api import AsyncBatchRun, BatchRun
from ._formats import InputError, parse_request, read_requests, result_line
from ._journal import Journal, JournalError, MemoryJournal, default_journal_path, open_journal
from ._model import BatchRequest, BatchResult, BatchSummary, parse_budget

__all__ = [
    "AsyncBatchRun",
    "BatchRequest",
    "BatchResult",
    "BatchRun",
    "BatchSummary",
    "InputError",
    "Journal",
    "JournalError",
    "MemoryJournal",
    "default_journal_path",
    "open_journal",
    "parse_budget",
    "parse_request",
    "read_requests",
    "result_line",
]
