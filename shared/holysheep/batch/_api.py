"""``client.batch``/``client.abatch``: a bulk job as an iterator of results with a summary.

The returned run object is what the caller holds: iterate it for results as they finish (in
input order with ``ordered=True``); ``run.summary`` is complete once it is exhausted. The
journal is opened on first iteration and closed when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any

from holysheep.errors import ConfigurationError, HolySheepError

from ._job import Job
from ._journal import Journal, open_journal
from ._limits import AdaptiveLimits, default_ceiling
from ._model import BatchResult, BatchSummary, parse_budget
from ._run import arun, items, run

__all__ = ["AsyncBatchRun", "BatchRun"]


class _Settings:
    """The arguments of ``batch``/``abatch``, checked before anything is opened."""

    def __init__(
        self,
        client: Any,
        requests: Any,
        *,
        concurrency: int | Mapping[str, int] | None,
        budget: Any,
        journal: str | os.PathLike[str] | Journal | None,
        job: str | None,
        dedup: bool,
        ordered: bool,
        model: str | None,
        lease_s: float,
        window: int | None,
    ) -> None:
        if isinstance(concurrency, int) and not isinstance(concurrency, bool):
            if concurrency < 1:
                raise ConfigurationError(f"concurrency={concurrency}: give 1 or more")
        elif concurrency is not None and not isinstance(concurrency, Mapping):
            raise ConfigurationError(
                f"concurrency={concurrency!r}: give a number, or a dict of model -> number"
            )
        self.client = client
        self.requests = requests
        self.concurrency = concurrency
        self.budget_usd = parse_budget(budget)
        self.journal = journal
        self.job = job
        self.dedup = dedup
        self.ordered = ordered
        self.model = model
        self.lease_s = lease_s
        self.window = window

    def start(self) -> Job:
        catalog = self.client.catalog
        ceiling = self.concurrency
        if ceiling is None:
            ceiling = lambda model: default_ceiling(catalog, model)  # noqa: E731
        limits = AdaptiveLimits(ceiling)
        peak = ceiling if isinstance(ceiling, int) else 64
        window = self.window or max(1024, 8 * peak)
        journal = open_journal(self.journal, self.job, lease_s=self.lease_s, exclusive=True)
        return Job(
            self.client, journal, limits,
            budget_usd=self.budget_usd, dedup=self.dedup, ordered=self.ordered,
            window=window, lease_s=self.lease_s,
        )


def _end(job: Job) -> None:
    """Commit answers still waiting for their group (a run stopped early), close the journal."""
    try:
        with contextlib.suppress(HolySheepError):  # the journal failing is already the error
            job.flush()
    finally:
        job.journal.close()


class BatchRun:
    """A running bulk job: iterate for ``BatchResult`` s; ``summary`` once it is exhausted."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        self._job: Job | None = None
        self._results: Generator[BatchResult, None, None] | None = None

    @property
    def summary(self) -> BatchSummary:
        """The run's ``BatchSummary`` (complete once iteration has ended)."""
        return self._job.summary if self._job is not None else BatchSummary()

    def __iter__(self) -> Iterator[BatchResult]:
        return self

    def __next__(self) -> BatchResult:
        if self._results is None:
            self._results = self._generate()
        return next(self._results)

    def _generate(self) -> Generator[BatchResult, None, None]:
        settings = self._settings
        self._job = job = settings.start()
        try:
            yield from run(job, items(settings.requests, settings.model))  # type: ignore[arg-type]
        finally:
            _end(job)

    def close(self) -> None:
        """Stop early: calls in flight are abandoned, finished ones stay in the journal."""
        if self._results is not None:
            self._results.close()

    def __enter__(self) -> BatchRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def results(self) -> list[BatchResult]:
        """Run to the end and return every result (fine for small jobs; iterate big ones)."""
        return list(self)


class AsyncBatchRun:
    """A running bulk job: ``async for`` its results, or ``await`` it for the list of them."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        self._job: Job | None = None
        self._results: AsyncIterator[BatchResult] | None = None

    @property
    def summary(self) -> BatchSummary:
        """The run's ``BatchSummary`` (complete once iteration has ended)."""
        return self._job.summary if self._job is not None else BatchSummary()

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        return self

    async def __anext__(self) -> BatchResult:
        if self._results is None:
            self._results = self._generate()
        return await self._results.__anext__()

    async def _generate(self) -> AsyncIterator[BatchResult]:
        settings = self._settings
        self._job = job = settings.start()
        try:
            async for result in arun(job, items(settings.requests, settings.model)):
                yield result
        finally:
            _end(job)

    async def aclose(self) -> None:
        """Stop early: calls in flight are cancelled, finished ones stay in the journal."""
        if self._results is not None:
            await self._results.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> AsyncBatchRun:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __await__(self) -> Generator[Any, None, list[BatchResult]]:
        return self._collect().__await__()

    async def _collect(self) -> list[BatchResult]:
        return [result async for result in self]
