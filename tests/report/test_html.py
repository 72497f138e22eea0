"""``CostLedger.report_html``: what the page says, checked against sums of the calls themselves."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from holysheep._money_text import money_text
from holysheep.errors import ConfigurationError
from holysheep.ledger import CostLedger

from ..ledger.helpers import Clock, call
from .demo import FIRST_DAY, DemoCall, demo_calls, demo_ledger, expected_usd
from .dom import Page, parse

CALLS = demo_calls()


def _day(c: DemoCall) -> str:
    return datetime.fromtimestamp(c.ts, timezone.utc).strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def demo_html() -> str:
    with demo_ledger(CALLS) as ledger:
        return ledger.report_html()


@pytest.fixture(scope="module")
def page(demo_html: str) -> Page:
    return parse(demo_html)


def _total(page: Page, key: str) -> Decimal:
    return Decimal(page.one(data_total=key).attrs["data-value"])


def test_headline_totals_are_the_sums_of_the_calls(page: Page) -> None:
    costs = [c.info.cost for c in CALLS if c.info.cost is not None]
    relay = sum((c.relay_cny for c in costs), Decimal(0))
    direct = sum((c.direct_cny for c in costs), Decimal(0))
    assert _total(page, "calls") == len(CALLS)
    assert _total(page, "total_usd") == expected_usd(CALLS)
    assert _total(page, "relay_cny") == relay
    assert _total(page, "direct_cny") == direct
    assert _total(page, "savings_cny") == direct - relay
    assert page.one(data_total="relay_cny").text == money_text(relay)
    assert page.one(data_total="calls").text == f"{len(CALLS):,}"
    lead = page.one("p", "lead").text
    assert f"{(direct - relay) / direct * 100:.1f}%" in lead


def test_spend_chart_has_one_bar_per_day_and_model_with_its_exact_spend(page: Page) -> None:
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for c in CALLS:
        if c.info.cost is not None:
            spend[(_day(c), c.info.model)] += c.info.cost.total_usd
    bars = page.all("rect", "bar")
    drawn = {(b.attrs["data-column"], b.attrs["data-series"]): b.attrs["data-value"] for b in bars}
    assert len(bars) == len(drawn) == len(spend)
    assert {k: Decimal(v) for k, v in drawn.items()} == spend
    assert len(page.all("g", "column")) == 21  # every day, quiet ones too
    by_model = Counter()
    for (_, model), usd in spend.items():
        by_model[model] += usd
    legend = [li.attrs["data-series"] for li in page.all("li", "series")]
    assert legend == sorted(by_model, key=lambda m: -by_model[m])  # the costliest first


def test_relay_against_direct_per_model(page: Page) -> None:
    relay: dict[str, Decimal] = defaultdict(Decimal)
    direct: dict[str, Decimal] = defaultdict(Decimal)
    for c in CALLS:
        if c.info.cost is not None:
            relay[c.info.model] += c.info.cost.relay_cny
            direct[c.info.model] += c.info.cost.direct_cny
    pairs = page.all("g", "pair")
    bars = zip(pairs, page.all("rect", "relay"), page.all("rect", "direct"), strict=True)
    shown = {
        p.attrs["data-model"]: (Decimal(r.attrs["data-value"]), Decimal(d.attrs["data-value"]))
        for p, r, d in bars
    }
    assert shown == {m: (relay[m], direct[m]) for m in relay}
    assert all("86.3%" in p.text for p in pairs)  # the relay's rate against the market's


def test_top_users_apps_and_tasks_ranked_by_spend(page: Page) -> None:
    for key in ("user", "app", "task"):
        usd: dict[str, Decimal] = defaultdict(Decimal)
        for c in CALLS:
            name = getattr(c.info.attribution, key) or "(not set)"
            usd[name] += c.info.cost.total_usd if c.info.cost else Decimal(0)
        section = page.elements[page.elements.index(page.one("div", "top", data_key=key)) :]
        rows = [e for e in section if e.tag == "tr" and "row" in e.classes][: len(usd)]
        names = [r.attrs["data-name"] for r in rows]
        assert all(r.text.startswith(r.attrs["data-name"]) for r in rows)
        assert names == sorted(usd, key=lambda n: -usd[n]), key


def test_routing_per_task_and_the_fallbacks_taken(page: Page) -> None:
    routed: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    moves: Counter[tuple[str, str]] = Counter()
    for c in CALLS:
        route = c.info.route
        if route is not None:
            routed[route.task] += 1
            fallbacks[route.task] += len(route.fallbacks)
            moves.update((f.from_model, f.to_model) for f in route.fallbacks)
    rows = page.all("tr", "route")
    assert {r.attrs["data-task"]: int(r.attrs["data-calls"]) for r in rows} == routed
    assert {r.attrs["data-task"]: int(r.attrs["data-fallbacks"]) for r in rows} == fallbacks
    assert [int(r.attrs["data-calls"]) for r in rows] == sorted(routed.values(), reverse=True)
    taken = page.all("tr", "fallback")
    assert sum(int(t.attrs["data-count"]) for t in taken) == sum(moves.values()) > 0
    first, second = next(iter(moves))
    assert any(f"{first} → {second}" in t.text for t in taken)


def test_budgets_used_against_their_limits(page: Page) -> None:
    task: dict[str | None, Decimal] = defaultdict(Decimal)
    for c in CALLS:
        task[c.info.attribution.task] += c.info.cost.total_usd if c.info.cost else Decimal(0)
    rows = {r.attrs["data-budget"]: r for r in page.all("tr", "budget")}
    assert set(rows) == {
        "all|task|analysis",
        "day|user|alice",
        "month|app|ide-plugin",
        "month|global|",
    }
    analysis = rows["all|task|analysis"]
    assert Decimal(analysis.attrs["data-spent"]) == task["analysis"]
    assert Decimal(analysis.attrs["data-limit"]) == 8
    assert f"{task['analysis'] / 8 * 100:.1f}%" in analysis.text
    june = rows["month|global|"]
    assert Decimal(june.attrs["data-spent"]) == expected_usd(CALLS)  # every demo call is in June


def test_share_of_estimated_and_unpriced_calls(page: Page) -> None:
    estimated = sum(c.info.estimated for c in CALLS)
    unpriced = sum(c.info.cost is None for c in CALLS)
    assert estimated and unpriced
    est, unp = page.one("li", "estimated"), page.one("li", "unpriced")
    assert int(est.attrs["data-calls"]) == estimated
    assert int(unp.attrs["data-calls"]) == unpriced
    assert f"{unpriced:,} of {len(CALLS):,} calls ({unpriced / len(CALLS) * 100:.1f}%)" in unp.text


def test_the_page_is_self_contained(demo_html: str) -> None:
    lowered = demo_html.lower()
    for outside in ("<script", "http://", "https://", " src=", "<link", "url(", "@import"):
        assert outside not in lowered, outside
    assert "@media print" in demo_html and "@page" in demo_html


def test_names_from_the_ledger_cannot_inject_markup() -> None:
    evil_user = "<script>alert(1)</script>"
    evil_app = '"><img src=x onerror=alert(1)>'
    with CostLedger("memory") as ledger:
        ledger.record(call(user=evil_user, app=evil_app, task="<b>qa</b>"))
        html = ledger.report_html(title="<i>mine</i>")
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<b>qa" not in lowered
    page = parse(html)
    names = {e.text for e in page.all("td", "name")}
    assert {evil_user, evil_app, "<b>qa</b>"} <= names
    assert page.one("h1").text == "<i>mine</i>"


def test_period_filters_like_the_text_report(demo_html: str) -> None:
    since, until = FIRST_DAY + timedelta(days=7), FIRST_DAY + timedelta(days=14)
    inside = [c for c in CALLS if since.timestamp() <= c.ts < until.timestamp()]
    with demo_ledger(CALLS) as ledger:
        page = parse(ledger.report_html(since=since, until=until))
    assert _total(page, "calls") == len(inside) < len(CALLS)
    assert _total(page, "total_usd") == expected_usd(inside)
    assert len(page.all("g", "column")) == 7
    assert "from 2025-06-09 00:00 before 2025-06-16 00:00" in page.one("p", "meta").text


def test_more_models_than_colours_share_an_other_series() -> None:
    models = [
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-5",
        "claude-sonnet-4.5",
        "claude-haiku-4.5",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "deepseek-v3.2",
        "grok-4",
    ]
    clock = Clock()
    with CostLedger("memory", clock=clock) as ledger:
        for _ in range(2):
            for model in models:
                ledger.record(call(model))
            clock.advance(86_400)
        page = parse(ledger.report_html())
        day_usd = {r["day"]: r.total_usd for r in ledger.totals(["day"])}
    series = [li.attrs["data-series"] for li in page.all("li", "series")]
    assert len(series) == 8 and series[-1] == "other models"
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for bar in page.all("rect", "bar"):
        per_day[bar.attrs["data-column"]] += Decimal(bar.attrs["data-value"])
    assert per_day == day_usd


def test_a_long_period_is_charted_per_month() -> None:
    clock = Clock()
    with CostLedger("memory", clock=clock) as ledger:
        clock.set(datetime(2025, 1, 10, tzinfo=timezone.utc))
        ledger.record(call())
        clock.set(datetime(2025, 6, 20, tzinfo=timezone.utc))
        ledger.record(call("deepseek-v3.2"))
        page = parse(ledger.report_html())
    columns = [g.attrs["data-column"] for g in page.all("g", "column")]
    assert columns == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert "Spend per month, by model" in [h.text for h in page.all("h2")]
    assert len(page.all("rect", "bar")) == 2


def test_no_calls_in_the_period_says_so() -> None:
    with CostLedger("memory") as ledger:
        assert "No calls recorded in this period." in ledger.report_html()
        ledger.record(call())
        later = datetime.now(timezone.utc) + timedelta(days=1)
        html = ledger.report_html(since=later)
    assert "No calls recorded in this period." in html
    assert not parse(html).all("rect", "bar")


def test_writes_the_file_it_returns(tmp_path: Path) -> None:
    with CostLedger("memory") as ledger:
        ledger.record(call())
        html = ledger.report_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == html
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_an_unwritable_path_says_what_to_do(tmp_path: Path) -> None:
    with CostLedger("memory") as ledger:
        ledger.record(call())
        with pytest.raises(ConfigurationError, match=r"cannot write the HTML report to .*missing"):
            ledger.report_html(tmp_path / "missing" / "r.html")
        with pytest.raises(ConfigurationError, match="writable folder"):
            ledger.report_html(tmp_path)  # a folder
    assert list(tmp_path.iterdir()) == []


def _body(html: str) -> str:
    """The page without the line that names the ledger and the time it was made."""
    return re.sub(r'<p class="meta">.*?</p>', "", html)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_backend_gives_the_same_page(
    backend: str, demo_html: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ledger.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    with demo_ledger(CALLS, url) as ledger:
        html = ledger.report_html()
    assert _body(html) == _body(demo_html)
