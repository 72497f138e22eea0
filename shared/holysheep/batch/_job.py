"""The state of one run of a bulk job, without I/O of its own: the rules in one place.

``Job`` decides, for each request, whether the journal already has its answer, whether an
identical request is in flight (dedup), whether another worker holds it (fleet), whether the
budget lets it go, and when its model's adaptive limit lets it start; and, for each call that
ends, what to commit and which results to hand out. The sync and async drivers (``_run.py``)
only read input, start calls and wait.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from holysheep.errors import (
    BadRequestError,
    BudgetExceededError,
    HolySheepError,
    RateLimitError,
)

from ._formats import InputError, body_hash
from ._journal import Claim, Commit, Journal, Mark
from ._limits import AdaptiveLimits
from ._model import BatchRequest, BatchResult, BatchSummary
from ._records import decode_error, decode_ok, encode_error, encode_ok, record_usd
from ._seen import SeenIds

__all__ = ["Job", "Work"]

_RATE_LIMIT_TRIES = 8
"""429s one request may take before it fails with ``RateLimitError`` (each halves and waits)."""


@dataclass(slots=True, eq=False)
class Work:
    """One call to make: the first request with its body, and identical requests waiting on it."""

    key: str
    hash: str
    request: BatchRequest
    model: str
    """The model whose concurrency limit the call counts against (routed, for ``auto``)."""
    estimate: Decimal = Decimal(0)
    waiters: list[BatchRequest] = field(default_factory=list)
    rate_limited: int = 0
    not_before: float = 0.0
    round: int = 0


class Job:
    """One run of a job: admission, dedup, budget, limits, journal commits and results."""

    def __init__(
        self,
        client: Any,
        journal: Journal,
        limits: AdaptiveLimits,
        *,
        budget_usd: Decimal | None = None,
        dedup: bool = True,
        ordered: bool = False,
        window: int = 1024,
        lease_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.journal = journal
        self.limits = limits
        self.budget_usd = budget_usd
        self.dedup = dedup
        self.ordered = ordered
        self.window = window
        self.retry = dataclasses.replace(client.retry, retry_rate_limits=False)
        self._options: dict[str, Any] = {"retry": self.retry}
        self.summary = BatchSummary()
        self._clock = clock
        self._since = time.time()  # failures committed before this run are tried again
        self._started = clock()
        self._queues: dict[str, deque[Work]] = {}
        self._works: dict[str, Work] = {}  # queued or in flight, by key
        self._elsewhere: dict[str, list[tuple[BatchRequest, str]]] = {}
        self._ready: deque[BatchResult] = deque()
        self._held: dict[int, BatchResult] = {}
        self._next_seq = 0
        self._reserved = Decimal(0)
        self._in_flight = 0
        self._unsaved: list[tuple[Work, Any]] = []  # answered, not yet committed: slots held
        self._committing: list[tuple[Work, Any]] | None = None  # the group being written
        self._commits: list[Commit] = []
        self._infos: list[Any] = []
        self._ids = SeenIds()  # custom_id -> its body's fingerprint, ~24 bytes a line
        self.stopped = False
        self._renew_every = lease_s / 3
        self._poll_every = min(1.0, lease_s / 4)
        self._next_renew = self._next_poll = clock()

    # ------------------------------------------------------------ admission

    def busy(self) -> int:
        """Requests admitted and not yet handed out (what bounds reading ahead)."""
        waiting = sum(len(w) for w in self._elsewhere.values())
        return len(self._works) + waiting + len(self._held) + len(self._ready)

    def wants_input(self) -> bool:
        """True while reading another request keeps memory bounded."""
        return self.busy() < self.window

    def admit(self, items: list[BatchRequest | InputError]) -> None:
        """Take a block of requests: answer each from the journal, join an identical call, or
        queue it; the journal is asked about the whole block at once."""
        fresh: list[tuple[BatchRequest, str, str]] = []
        for item in items:
            self.summary.requests += 1
            if isinstance(item, InputError):
                self._emit(item.result())
                continue
            digest = body_hash(item)
            if self._reused(item, digest):
                continue
            fresh.append((item, digest, digest if self.dedup else f"c:{item.custom_id}"))
        firsts: dict[str, BatchRequest] = {}
        for request, _, key in fresh:
            if key not in self._works and key not in self._elsewhere and key not in firsts:
                firsts[key] = request
        looked: dict[str, tuple[str | None, Claim]] = {}
        if firsts:
            pairs = [(request.custom_id, key) for key, request in firsts.items()]
            lookup_many = getattr(self.journal, "lookup_many", None)
            if lookup_many is not None:
                found = lookup_many(pairs, self._since)
            else:  # a journal object of the caller's that predates lookup_many
                found = [self.journal.lookup(cid, key, self._since) for cid, key in pairs]
            looked = dict(zip(firsts, found, strict=True))
        for request, digest, key in fresh:
            if firsts.get(key) is request:
                answered, claim = looked[key]
                self._settle(request, digest, key, answered, claim)
            else:
                self._admit_one(request, digest, key)

    def _reused(self, request: BatchRequest, digest: str) -> bool:
        """Refuse a request whose custom_id an earlier line of this input used for another body."""
        if self._ids.first_body(request.custom_id, digest):
            return False
        where = f"line {request.line}" if request.line is not None else f"request {request.seq}"
        self._emit(BatchResult(
            request.custom_id, seq=request.seq, line=request.line, error=BadRequestError(
                f"{where}: custom_id {request.custom_id!r} is already used by an earlier request "
                "of this input with a different body; give each request its own custom_id "
                "(this one was not sent)", code="duplicate_custom_id"),
        ))
        return True

    def _admit_one(self, item: BatchRequest, digest: str, key: str) -> None:
        """Admit one request: join its key's call or waiters, else ask the journal alone."""
        work = self._works.get(key)
        if work is not None:
            work.waiters.append(item)
            return
        if key in self._elsewhere:
            self._elsewhere[key].append((item, digest))
            return
        answered, claim = self.journal.lookup(item.custom_id, key, self._since)
        self._settle(item, digest, key, answered, claim)

    def _settle(self, item: BatchRequest, digest: str, key: str, answered: str | None,
                claim: Claim) -> None:
        """Act on the journal's word on a request: refuse a changed body, else apply it."""
        state, record = claim
        if answered is not None and answered != digest:
            if state == "mine":
                self.journal.release(key)
            self._emit(BatchResult(
                item.custom_id, seq=item.seq, line=item.line, error=BadRequestError(
                    f"custom_id {item.custom_id!r} was already answered in this job for a "
                    "different request; give the changed request a new custom_id, or start a "
                    "new job (another --job or --journal)", code="custom_id_reused"),
            ))
            return
        self._apply(key, [(item, digest)], answered is not None, state, record)

    def _apply(self, key: str, requests: list[tuple[BatchRequest, str]], resumed: bool,
               state: str, record: str | None) -> None:
        """Act on what the journal said of ``key`` for ``requests``."""
        if state == "done" and record is not None:
            completion, info = decode_ok(record)
            for request, digest in requests:
                mine = resumed or self.journal.done_hash(request.custom_id) is not None
                if not mine:
                    self.journal.mark([(request.custom_id, digest, True)])
                self._answer(request, completion, info, from_journal=True, dedup=not mine)
                resumed = False
        elif state == "failed" and record is not None:
            error = decode_error(record)
            for request, _ in requests:
                self._emit(BatchResult(request.custom_id, error=error, seq=request.seq,
                                       deduplicated=True))
        elif state == "busy":
            self._elsewhere.setdefault(key, []).extend(requests)
        elif self.stopped:
            self.journal.release(key)
            for request, _ in requests:
                self._unsent(request, self._budget_error())
        else:
            first, digest = requests[0]
            work = Work(key, digest, first, self._limit_key(first),
                        waiters=[r for r, _ in requests[1:]])
            if self.budget_usd is not None:
                work.estimate = self._estimate(work)
            self._works[key] = work
            queue = self._queues.get(work.model)
            if queue is None:
                queue = self._queues[work.model] = deque()
            queue.append(work)

    def _limit_key(self, request: BatchRequest) -> str:
        """The model a request's call counts against: its own, or the routed one for ``auto``."""
        model = str(request.body.get("model"))
        if model != "auto":
            return model
        body = request.body
        try:
            decision = self.client.routing().route(
                body.get("messages") or [], request.task,
                max_tokens=body.get("max_tokens"), tools=body.get("tools"),
            )
        except HolySheepError:
            return model
        return decision.model or model

    def _estimate(self, work: Work) -> Decimal:
        """The most ``work`` may cost (its budget reservation)."""
        from holysheep.ledger import estimate_call_usd

        body = work.request.body
        spec = self.client.catalog.find(work.model)
        return estimate_call_usd(
            spec, body.get("messages") or (),
            body.get("max_tokens") or body.get("max_completion_tokens"), body.get("tools"),
        )

    # ------------------------------------------------------------ sending

    def next_sends(self) -> list[Work]:
        """Calls that may start now: within each model's limit, after pauses, within budget."""
        sends: list[Work] = []
        now = self._clock()
        for model, queue in self._queues.items():
            while queue and self.limits.can_start(model) and queue[0].not_before <= now:
                work = queue[0]
                if not self._affordable(work):
                    if self._in_flight == 0 and not sends:
                        self._stop()
                    return sends
                queue.popleft()
                work.round = self.limits.started(model)
                self._reserved += work.estimate
                self._in_flight += 1
                sends.append(work)
        return sends

    def _affordable(self, work: Work) -> bool:
        if self.budget_usd is None:
            return True
        spec = self.client.catalog.find(work.model)
        if (spec is None or not spec.priced) and self.client.on_unpriced != "allow":
            return False
        spent = self.journal.spent_usd() + self._reserved
        return spent + work.estimate <= self.budget_usd

    def _budget_error(self) -> BudgetExceededError:
        return BudgetExceededError(
            f"not sent: the job's budget of ${self.budget_usd} would be crossed by this "
            "request's reservation (its prompt plus max_tokens at list price); raise --budget "
            "or set a smaller max_tokens and run the same command again to send the rest",
            code="budget_exceeded",
        )

    def _stop(self) -> None:
        """The budget is spent: leave every queued request unsent (a later run may send it)."""
        self.stopped = True
        error = self._budget_error()
        for queue in self._queues.values():
            while queue:
                work = queue.popleft()
                del self._works[work.key]
                self.journal.release(work.key)
                for request in (work.request, *work.waiters):
                    self._unsent(request, error)

    def call(self, work: Work) -> tuple[dict[str, Any], dict[str, Any]]:
        """The body and call options of ``work`` for ``client.chat``/``achat``."""
        request = work.request
        if request.task is None and request.app is None and not request.tags:
            return request.body, self._options  # shared: the callee unpacks it (**options)
        options: dict[str, Any] = {"retry": self.retry}
        if request.task is not None:
            options["task"] = request.task
        if request.app is not None:
            options["app"] = request.app
        if request.tags:
            options["tags"] = request.tags
        return request.body, options

    # ------------------------------------------------------------ outcomes

    def outcomes(self, ended: list[tuple[Work, Any, BaseException | None]]) -> None:
        """Calls ended: retry 429s later, commit failures at once; answers wait for a group
        commit (``commit_due``), each keeping its call slot until committed."""
        for work, completion, error in ended:
            if error is None:
                self._unsaved.append((work, completion))
                continue
            self._in_flight -= 1
            self._reserved -= work.estimate
            if isinstance(error, RateLimitError) and work.rate_limited + 1 < _RATE_LIMIT_TRIES:
                self._rate_limited(work, error)
                continue
            self.limits.finished(work.model, work.round)
            del self._works[work.key]
            self._failed(work, error)

    def commit_due(self) -> bool:
        """True when answers wait and no commit is being written: a group commit takes every
        answer that came in while the previous one was written (bounded by the concurrency)."""
        return bool(self._unsaved) and self._committing is None

    def begin_commit(self) -> list[Commit]:
        """Take the waiting answers as one group; their records for ``journal.finish``.

        Their calls keep their slots (and reservations) until ``end_commit``: at most the
        concurrency is ever paid and uncommitted, so a SIGKILL re-pays no more than that."""
        answered, self._unsaved = self._unsaved, []
        self._committing = answered
        summary = self.summary
        commits: list[Commit] = []
        for work, completion in answered:
            info = completion.call_info
            self._infos.append(info)  # read once: call_info goes through pydantic's getattr
            summary.billed_calls += 1
            usage, cost = getattr(info, "usage", None), getattr(info, "cost", None)
            if usage is not None:
                summary.prompt_tokens += usage.prompt_tokens
                summary.completion_tokens += usage.completion_tokens
            if cost is not None:
                summary.total_usd += cost.total_usd
                summary.relay_cny += cost.relay_cny
                summary.direct_cny += cost.direct_cny
            marks: list[Mark] = [(r.custom_id, work.hash, True)
                                 for r in (work.request, *work.waiters)]
            commits.append((work.key, encode_ok(completion, info), record_usd(info), marks))
        self._commits = commits
        return commits

    def end_commit(self, firsts: list[str | None]) -> None:
        """The group is in the journal: free its slots and hand its answers out (never before)."""
        answered, commits, infos = self._committing or [], self._commits, self._infos
        self._committing, self._commits, self._infos = None, [], []
        for (work, completion), first, commit, info in zip(answered, firsts, commits, infos,
                                                           strict=True):
            self._in_flight -= 1
            self._reserved -= work.estimate
            self.limits.finished(work.model, work.round)
            del self._works[work.key]
            requests = (work.request, *work.waiters)
            if first is not None:  # another worker answered first: every copy gets that one
                completion, info = decode_ok(first)
                self.journal.mark(commit[3])
            if len(requests) > len(commit[3]):  # identical requests joined during the commit
                self.journal.mark([(r.custom_id, work.hash, True)
                                   for r in requests[len(commit[3]):]])
            for i, request in enumerate(requests):
                self._answer(request, completion, info, from_journal=False, dedup=i > 0)

    def flush(self) -> None:
        """Commit every waiting answer now, in this thread (sync driver, and a run's end)."""
        while self._unsaved and self._committing is None:
            self.end_commit(self.journal.finish(self.begin_commit()))

    def _failed(self, work: Work, error: BaseException) -> None:
        requests = [work.request, *work.waiters]
        if isinstance(error, BudgetExceededError):  # a ledger budget: not sent, not failed
            self.journal.release(work.key)
            for request in requests:
                self._unsent(request, error)
            return
        if not isinstance(error, HolySheepError):
            error = HolySheepError(f"unexpected {type(error).__name__}: {error}")
        marks: list[Mark] = [(r.custom_id, work.hash, False) for r in requests]
        self.journal.fail(work.key, encode_error(error), marks)
        for i, request in enumerate(requests):
            self._emit(BatchResult(request.custom_id, error=error, seq=request.seq,
                                   deduplicated=i > 0))

    def _rate_limited(self, work: Work, error: RateLimitError) -> None:
        """Halve the model's limit, pause it for Retry-After, and queue the call again."""
        work.rate_limited += 1
        pause = self.retry.backoff(work.rate_limited, error.retry_after)
        self.limits.finished(work.model, work.round, rate_limited=True, pause_s=pause)
        router = getattr(self.client, "router", None)
        breaker = getattr(router, "breaker", None)
        if breaker is not None:  # routed calls avoid the model while it cools
            breaker.record_failure(work.model, error)
        work.not_before = self._clock() + pause
        self._queues.setdefault(work.model, deque()).appendleft(work)

    # ------------------------------------------------------------ timers (fleet)

    def tick(self) -> None:
        """Renew this worker's leases and look again at work other workers hold."""
        now = self._clock()
        if now >= self._next_renew:
            self._next_renew = now + self._renew_every
            if self._works:
                self.journal.renew(list(self._works))
        if self._elsewhere and now >= self._next_poll:
            self._next_poll = now + self._poll_every
            for key in list(self._elsewhere):
                state, record = self.journal.claim(key, self._since)
                self._apply(key, self._elsewhere.pop(key), False, state, record)

    def wait_s(self) -> float:
        """How long the driver may wait for a call to end before something else is due."""
        now = self._clock()
        due = self._next_renew
        if self._elsewhere:
            due = min(due, self._next_poll)
        for model, queue in self._queues.items():
            if queue:
                due = min(due, max(queue[0].not_before, now + self.limits.wait_s(model)))
        return min(1.0, max(0.001, due - now))

    # ------------------------------------------------------------ results

    def _answer(self, request: BatchRequest, completion: Any, info: Any, *,
                from_journal: bool, dedup: bool) -> None:
        if dedup:
            self.summary.deduplicated += 1
        elif from_journal:
            self.summary.from_journal += 1
        self._emit(BatchResult(request.custom_id, completion=completion, call_info=info,
                               deduplicated=dedup, from_journal=from_journal, seq=request.seq))

    def _unsent(self, request: BatchRequest, error: BudgetExceededError) -> None:
        self.summary.unsent += 1
        self._emit(BatchResult(request.custom_id, error=error, seq=request.seq), count=False)

    def _emit(self, result: BatchResult, *, count: bool = True) -> None:
        if count:
            if result.error is None:
                self.summary.succeeded += 1
            else:
                self.summary.add_failure(result.error)
        if not self.ordered:
            self._ready.append(result)
            return
        self._held[result.seq] = result
        while self._next_seq in self._held:
            self._ready.append(self._held.pop(self._next_seq))
            self._next_seq += 1

    def take_ready(self) -> list[BatchResult]:
        """Results ready to hand out (in input order when ``ordered``)."""
        ready = list(self._ready)
        self._ready.clear()
        self.summary.wall_s = self._clock() - self._started
        return ready

    def idle(self) -> bool:
        """True when nothing is queued, in flight, held by others or waiting to be handed out."""
        return not (self._works or self._elsewhere or self._ready or self._held)

    def in_flight(self) -> int:
        """Calls started and not ended."""
        return self._in_flight
