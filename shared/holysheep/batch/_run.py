"""The two drivers of a bulk job: threads over ``client.chat``, worker tasks over ``client.achat``.

Each is a short loop over ``Job`` (which holds every rule): read input in blocks while there is
room, start what the job allows, hand out what is ready, wait for a call to end, a commit or a
timer. Answers are committed in groups, each keeping its call slot until its commit, so at most
the concurrency is ever paid and not yet journaled: on the driver's own thread for memory and
SQLite (a group is every answer that ended in one pass; a SQLite commit does not fsync), on a
journal thread for Redis (a group is every answer that ended while the previous one was sent).
The two drivers differ only in how calls run and how the loop waits.
"""

from __future__ import annotations

import asyncio
import os
import queue
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any

from ._formats import InputError, parse_request, read_requests
from ._job import Job, Work
from ._model import BatchRequest, BatchResult

__all__ = ["arun", "items", "run"]

_END = object()
_BLOCK = 64
"""Requests read and looked up in the journal together (one query for the block)."""


def items(requests: Any, model: str | None) -> Iterable[Any] | AsyncIterable[Any]:
    """The requests as parsed items: a path is read as a JSONL file, one line at a time."""
    if isinstance(requests, (str, os.PathLike)):
        return read_requests(requests, model=model)
    if isinstance(requests, AsyncIterable):
        return _aparsed(requests, model)
    return _parsed(requests, model)


def _coerce(item: Any, seq: int, model: str | None) -> BatchRequest | InputError:
    if isinstance(item, (BatchRequest, InputError)):
        return item
    return parse_request(item, seq, model=model)


def _parsed(requests: Iterable[Any], model: str | None) -> Iterator[Any]:
    for seq, item in enumerate(requests):
        yield _coerce(item, seq, model)


async def _aparsed(requests: AsyncIterable[Any], model: str | None) -> AsyncIterator[Any]:
    seq = 0
    async for item in requests:
        yield _coerce(item, seq, model)
        seq += 1


def _writer(job: Job) -> ThreadPoolExecutor | None:
    """A thread for the journal's commits when its backend asks for one (Redis): they wait on
    the network there while calls go on; one at a time, so the next group gathers meanwhile."""
    if not getattr(job.journal, "offload", False):
        return None
    return ThreadPoolExecutor(1, thread_name_prefix="holysheep-batch-journal")


def _drain(job: Job, writer: ThreadPoolExecutor | None,
           commit: Future[list[str | None]] | None) -> None:
    """At a run's end: let a commit under way finish (milliseconds) before the journal closes."""
    if writer is None:
        return
    writer.shutdown(wait=True)
    if commit is not None and commit.exception() is None:
        job.end_commit(commit.result())


def run(job: Job, source: Iterable[Any]) -> Iterator[BatchResult]:
    """Run ``job`` with a thread per call in flight (sync ``client.chat``)."""
    if isinstance(source, AsyncIterable):
        raise TypeError("batch() reads a plain iterable; use abatch() for an async iterable")
    it, done = iter(source), queue.SimpleQueue()
    pending, read, exhausted = 0, 0, False
    pool = ThreadPoolExecutor(max_workers=1024, thread_name_prefix="holysheep-batch")
    writer = _writer(job)
    commit: Future[list[str | None]] | None = None

    def call(work: Work) -> None:
        body, options = job.call(work)
        future: Future[Any] = pool.submit(job.client.chat, body, **options)
        future.add_done_callback(lambda f: done.put((work, f)))

    try:
        while True:
            while not exhausted and job.wants_input():
                block = list(islice(it, _BLOCK))
                job.admit(block)
                read += len(block)
                if len(block) < _BLOCK:
                    exhausted = True
                    job.journal.set_total(read)
            for work in job.next_sends():
                call(work)
                pending += 1
            yield from job.take_ready()
            if exhausted and job.idle():
                return
            try:
                ended = [done.get(timeout=job.wait_s())]
                while not done.empty():  # every call that ended meanwhile, in one pass
                    ended.append(done.get_nowait())
            except queue.Empty:
                ended = []
            ended = [(work, f) for work, f in ended if work is not None]  # not a commit's wake
            pending -= len(ended)
            job.outcomes([(work, f.result() if f.exception() is None else None, f.exception())
                          for work, f in ended])
            if commit is not None and commit.done():
                finished, commit = commit, None
                job.end_commit(finished.result())  # a JournalError ends the run here
            if commit is None and job.commit_due():
                if writer is None:
                    job.flush()
                else:
                    commit = writer.submit(job.journal.finish, job.begin_commit())
                    commit.add_done_callback(lambda _: done.put((None, None)))
            job.tick()
    finally:
        pool.shutdown(wait=pending == 0, cancel_futures=True)
        _drain(job, writer, commit)


async def arun(job: Job, source: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[BatchResult]:
    """Run ``job`` on long-lived worker tasks over ``client.achat`` (one per call slot in use)."""
    aiter_ = source.__aiter__() if isinstance(source, AsyncIterable) else None
    it = None if aiter_ is not None else iter(source)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    ended: list[tuple[Work, Any, BaseException | None]] = []
    workers: list[asyncio.Task[None]] = []
    idle: list[asyncio.Future[Work | None]] = []  # a worker waiting for its next call, each
    wake: list[asyncio.Future[None]] = []
    read, exhausted = 0, False
    writer = _writer(job)
    commit: Future[list[str | None]] | None = None
    achat, call_of = job.client.achat, job.call

    def woken(_: object = None) -> None:
        if wake and not wake[0].done():
            wake[0].set_result(None)

    async def worker(work: Work | None) -> None:
        # a task per slot, not per call: it reports each outcome itself, then waits for the
        # next call the loop hands it (no task, no done-callback pass per call)
        while work is not None:
            body, options = call_of(work)
            try:
                completion = await achat(body, **options)
            except BaseException as exc:  # every failure is the request's own result
                ended.append((work, None, exc))
                woken()
                if isinstance(exc, asyncio.CancelledError):
                    raise
            else:
                ended.append((work, completion, None))
                woken()
            nxt: asyncio.Future[Work | None] = loop.create_future()
            idle.append(nxt)
            work = await nxt

    def call(work: Work) -> None:
        while idle:
            nxt = idle.pop()
            if not nxt.done():
                nxt.set_result(work)
                return
        workers.append(loop.create_task(worker(work)))

    try:
        while True:
            while not exhausted and job.wants_input():
                if aiter_ is None:
                    block = list(islice(it, _BLOCK))  # type: ignore[arg-type]
                else:
                    block = []
                    while len(block) < _BLOCK and (item := await anext(aiter_, _END)) is not _END:
                        block.append(item)
                job.admit(block)
                read += len(block)
                if len(block) < _BLOCK:
                    exhausted = True
                    job.journal.set_total(read)
            for work in job.next_sends():
                call(work)
            for result in job.take_ready():
                yield result
            if exhausted and job.idle():
                return
            if not ended and not (commit is not None and commit.done()):
                # sleep until a call ends, a commit is written or a timer of the job is due
                wake[:] = [loop.create_future()]
                timer = loop.call_later(job.wait_s(), woken)
                await wake[0]
                timer.cancel()
            batch, ended[:] = list(ended), []
            job.outcomes(batch)
            if commit is not None and commit.done():
                done, commit = commit, None
                job.end_commit(done.result())  # a JournalError ends the run here
            if commit is None and job.commit_due():
                if writer is None:
                    job.flush()
                else:
                    commit = writer.submit(job.journal.finish, job.begin_commit())
                    commit.add_done_callback(lambda _: loop.call_soon_threadsafe(woken))
            job.tick()
    finally:
        for task in workers:
            task.cancel()
        _drain(job, writer, commit)
