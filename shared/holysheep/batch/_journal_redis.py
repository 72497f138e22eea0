"""The Redis journal: one job worked by any number of processes on any number of machines.

Each unit of work is claimed with a lease (``SET NX PX``) that its worker renews while the call
runs; a worker that dies stops renewing, its leases expire and another worker takes the work
over. An answer is committed once (``HSETNX`` in a Lua script), so every ``custom_id`` is done
exactly once; a worker killed mid-call costs at most its calls in flight, paid again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

import redis

from ._journal import Claim, Commit, JournalError, Mark

__all__ = ["RedisJournal"]

_PICO = Decimal("1e12")  # spend is kept as integer pico-USD: exact, and HINCRBY is atomic

_CLAIM = """
local answer = redis.call('HGET', KEYS[1], ARGV[1])
if answer then return {'done', answer} end
local failure = redis.call('HGET', KEYS[2], ARGV[1])
if failure then
  local bar = string.find(failure, '|', 1, true)
  if tonumber(string.sub(failure, 1, bar - 1)) >= tonumber(ARGV[4]) then
    return {'failed', string.sub(failure, bar + 1)}
  end
end
if redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'mine', ''} end
if redis.call('GET', KEYS[3]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {'mine', ''}
end
return {'busy', ''}
"""

_FINISH = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return redis.call('HGET', KEYS[1], ARGV[1])
end
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('HINCRBY', KEYS[6], 'spent_pusd', ARGV[3]) end
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('HDEL', KEYS[4], ARGV[i])
end
if redis.call('GET', KEYS[5]) == ARGV[4] then redis.call('DEL', KEYS[5]) end
return false
"""

_FAIL = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
if redis.call('GET', KEYS[4]) == ARGV[3] then redis.call('DEL', KEYS[4]) end
return 1
"""

_RENEW = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisJournal:
    """A job's journal in Redis, shared by every worker that names the same job."""

    offload = True
    """``finish`` may run on another thread (redis-py's client is thread-safe)."""

    def __init__(self, url: str, job: str, *, lease_s: float = 30.0) -> None:
        from holysheep.ledger import redact_url

        if lease_s <= 0:
            raise JournalError("the lease must be longer than 0 seconds")
        self.url = redact_url(url)
        self.job = job
        self.lease_ms = max(1, int(lease_s * 1000))
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        prefix = f"holysheep:batch:{job}:"
        self._keys = {name: prefix + name for name in ("answers", "failures", "ok", "failed",
                                                       "meta")}
        self._lease_prefix = prefix + "lease:"
        with self._errors("connect to"):
            self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
            self._redis.ping()
            self._claim = self._redis.register_script(_CLAIM)
            self._finish = self._redis.register_script(_FINISH)
            self._fail = self._redis.register_script(_FAIL)
            self._renew = self._redis.register_script(_RENEW)
            self._release = self._redis.register_script(_RELEASE)
        self._spent_cache: tuple[float, Decimal] | None = None

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise JournalError(
                f"could not {doing} the job journal at {self.url} ({type(exc).__name__}: {exc}); "
                "check that Redis is running and the URL is right; finished requests are safe "
                "there, so re-run the same command once it answers"
            ) from None

    def done_hash(self, custom_id: str) -> str | None:
        with self._errors("read"):
            value = self._redis.hget(self._keys["ok"], custom_id)
        return None if value is None else value.decode()

    def claim(self, key: str, since: float) -> Claim:
        k = self._keys
        with self._errors("read"):
            state, record = self._claim(
                keys=[k["answers"], k["failures"], self._lease_prefix + key],
                args=[key, self.worker, self.lease_ms, repr(since)],
            )
        state = state.decode()
        return state, (record.decode() if record else None)  # type: ignore[return-value]

    def lookup(self, custom_id: str, key: str, since: float) -> tuple[str | None, Claim]:
        k = self._keys
        with self._errors("read"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hget(k["ok"], custom_id)
            self._claim(keys=[k["answers"], k["failures"], self._lease_prefix + key],
                        args=[key, self.worker, self.lease_ms, repr(since)], client=pipe)
            answered, (state, record) = pipe.execute()
        claim = (state.decode(), record.decode() if record else None)
        return (None if answered is None else answered.decode()), claim  # type: ignore[return-value]

    def lookup_many(self, pairs: list[tuple[str, str]], since: float
                    ) -> list[tuple[str | None, Claim]]:
        """Every ``lookup`` in one pipeline: one round trip for a block of requests."""
        k = self._keys
        with self._errors("read"):
            pipe = self._redis.pipeline(transaction=False)
            for custom_id, key in pairs:
                pipe.hget(k["ok"], custom_id)
                self._claim(keys=[k["answers"], k["failures"], self._lease_prefix + key],
                            args=[key, self.worker, self.lease_ms, repr(since)], client=pipe)
            replies = pipe.execute()
        out: list[tuple[str | None, Claim]] = []
        for answered, (state, record) in zip(replies[::2], replies[1::2], strict=True):
            claim = (state.decode(), record.decode() if record else None)
            out.append(((None if answered is None else answered.decode()), claim))  # type: ignore[arg-type]
        return out

    def renew(self, keys: Iterable[str]) -> None:
        leases = [self._lease_prefix + key for key in keys]
        with self._errors("write"):
            for start in range(0, len(leases), 500):
                self._renew(keys=leases[start : start + 500], args=[self.worker, self.lease_ms])

    def release(self, key: str) -> None:
        with self._errors("write"):
            self._release(keys=[self._lease_prefix + key], args=[self.worker])

    def finish(self, commits: list[Commit]) -> list[str | None]:
        k = self._keys
        with self._errors("write"):
            pipe = self._redis.pipeline(transaction=False)
            for key, record, usd, marks in commits:
                args: list[Any] = [key, record, int(usd * _PICO), self.worker]
                for custom_id, body, _ in marks:
                    args += [custom_id, body]
                self._finish(
                    keys=[k["answers"], k["failures"], k["ok"], k["failed"],
                          self._lease_prefix + key, k["meta"]],
                    args=args, client=pipe,
                )
            firsts = pipe.execute()
        self._spent_cache = None
        return [None if first is None else first.decode() for first in firsts]

    def fail(self, key: str, record: str, marks: list[Mark]) -> None:
        k = self._keys
        args: list[Any] = [key, f"{time.time()!r}|{record}", self.worker]
        for custom_id, body, _ in marks:
            args += [custom_id, body]
        with self._errors("write"):
            self._fail(keys=[k["failures"], k["failed"], k["ok"], self._lease_prefix + key],
                       args=args)

    def mark(self, marks: list[Mark]) -> None:
        with self._errors("write"):
            pipe = self._redis.pipeline(transaction=True)
            for custom_id, body, ok in marks:
                pipe.hset(self._keys["ok" if ok else "failed"], custom_id, body)
                if ok:
                    pipe.hdel(self._keys["failed"], custom_id)
            pipe.execute()

    def spent_usd(self) -> Decimal:
        cached, now = self._spent_cache, time.monotonic()
        if cached is not None and now - cached[0] < 0.25:  # other workers' spend, a bit late
            return cached[1]
        with self._errors("read"):
            value = self._redis.hget(self._keys["meta"], "spent_pusd")
        spent = Decimal(int(value or 0)) / _PICO
        self._spent_cache = (now, spent)
        return spent

    def set_total(self, total: int) -> None:
        with self._errors("write"):
            self._redis.hset(self._keys["meta"], "total", total)

    def progress(self) -> dict[str, Any]:
        k = self._keys
        with self._errors("read"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hlen(k["ok"])
            pipe.hlen(k["failed"])
            pipe.hmget(k["meta"], ["total", "spent_pusd"])
            ok, failed, (total, spent) = pipe.execute()
        return {"total": None if total is None else int(total), "succeeded": ok,
                "failed": failed, "spent_usd": Decimal(int(spent or 0)) / _PICO}

    def close(self) -> None:
        client = getattr(self, "_redis", None)
        if client is not None:
            client.close()
