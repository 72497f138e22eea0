"""A demo ledger with known calls: three weeks of a small team's traffic, seeded, so reproducible.

The HTML report tests check the page against sums computed here from the calls themselves; the
README screenshot (``scripts/report_screenshot.py``) is made from the same ledger.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from holysheep.calls import Attribution, CallInfo
from holysheep.catalog import ModelCatalog
from holysheep.ledger import CostLedger
from holysheep.routing import CandidateVerdict, Fallback, RouteDecision
from holysheep.usage import Usage

FIRST_DAY = datetime(2025, 6, 2, tzinfo=timezone.utc)
DAYS = 21
UNPRICED = "acme-local-7b"
"""A model with no catalogue price: counted in calls and tokens, never in money."""
_ROUTES = {
    "summarization": ("deepseek-v3.2", "gemini-2.5-flash"),
    "qa": ("gemini-2.5-flash", "deepseek-v3.2"),
    "code-generation": ("gpt-4.1", "claude-sonnet-4.5"),
    "analysis": ("claude-sonnet-4.5", "gpt-4.1"),
    "translation": ("gemini-2.5-flash", "deepseek-v3.2"),
}
_USERS = ("alice", "bob", "carol", "dan", "erin", "farid", None)
_APPS = ("support-bot", "search", "ide-plugin", "nightly-etl")


@dataclass(frozen=True)
class DemoCall:
    """One call of the demo and when it was recorded (epoch seconds)."""

    ts: float
    info: CallInfo


def _route(task: str, rng: random.Random) -> tuple[str, RouteDecision]:
    first, second = _ROUTES[task]
    fell_back = rng.random() < 0.12
    chosen = second if fell_back else first
    fallbacks = ()
    if fell_back:
        status, kind = rng.choice([(429, "RateLimitError"), (503, "UpstreamError")])
        fallbacks = (
            Fallback(
                first,
                kind,
                f"HTTP {status} from the relay",
                "trying the next candidate",
                status,
                chosen,
            ),
        )
    candidates = (
        CandidateVerdict(first, "failed" if fell_back else "chosen", "first pick", 128_000),
        CandidateVerdict(second, "chosen" if fell_back else "kept", "next", 128_000),
    )
    source = "classifier" if rng.random() < 0.4 else "caller"
    decision = RouteDecision(task, source, chosen, "cheapest that fits", candidates, fallbacks)
    return chosen, decision


def demo_calls(seed: int = 12) -> list[DemoCall]:
    """About a thousand calls over ``DAYS`` days, oldest first."""
    rng = random.Random(seed)
    catalog = ModelCatalog.shipped()
    calls = []
    n = 0
    for day in range(DAYS):
        start = FIRST_DAY + timedelta(days=day)
        weekend = start.weekday() >= 5
        count = rng.randint(12, 25) if weekend else rng.randint(35, 70) + day
        for second in sorted(rng.randrange(7 * 3600, 22 * 3600) for _ in range(count)):
            n += 1
            task = rng.choice([*_ROUTES, "classification"])
            route = None
            if task == "classification":
                model = UNPRICED if rng.random() < 0.5 else "deepseek-v3.2"
            elif rng.random() < 0.55:
                model, route = _route(task, rng)
            else:
                model = _ROUTES[task][0]
            prompt = rng.randint(300, 9000 if task == "analysis" else 3000)
            completion = rng.randint(40, 1800 if task == "code-generation" else 600)
            usage = Usage(prompt, completion, prompt + completion, prompt // 4, 0)
            info = CallInfo(
                id=f"chatcmpl-demo-{n}",
                requested_model="auto" if route else model,
                model=model,
                usage=usage,
                cost=None if model == UNPRICED else catalog.cost(model, usage),
                attribution=Attribution(task=task, user=rng.choice(_USERS), app=rng.choice(_APPS)),
                latency_s=0.4,
                attempts=1,
                streamed=True,
                request_id=f"req-demo-{n}",
                route=route,
                estimated=rng.random() < 0.03,
            )
            calls.append(DemoCall((start + timedelta(seconds=second)).timestamp(), info))
    return calls


class _Clock:
    def __init__(self) -> None:
        self.now = FIRST_DAY.timestamp()

    def __call__(self) -> float:
        return self.now


def demo_ledger(calls: list[DemoCall] | None = None, url: str = "memory") -> CostLedger:
    """A ledger holding ``calls`` (default: :func:`demo_calls`) and four budgets.

    Its clock stops after the last call, so the budgets' current windows hold demo spending.
    """
    clock = _Clock()
    ledger = CostLedger(url, clock=clock)
    ledger.set_budget("60", period="month")
    ledger.set_budget("1.50", scope="user", key="alice", period="day")
    ledger.set_budget("25", scope="app", key="ide-plugin", period="month")
    ledger.set_budget("8", scope="task", key="analysis", period="all")
    for call in calls if calls is not None else demo_calls():
        clock.now = call.ts
        ledger.record(call.info)
    return ledger


def expected_usd(calls: list[DemoCall]) -> Decimal:
    """List-price USD of the priced calls."""
    return sum((c.info.cost.total_usd for c in calls if c.info.cost), Decimal(0))
