"""``holysheep report --html FILE``: the page from a ledger file, its period, and failures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from holysheep.cli import main

from .demo import FIRST_DAY, demo_calls, demo_ledger, expected_usd
from .dom import parse

CALLS = demo_calls()[:300]  # the first week or so: enough for every section


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    demo_ledger(CALLS, url).close()
    return url


def test_writes_the_page_and_says_where(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    out_file = tmp_path / "report.html"
    code, out, err = run(capsys, "report", "--ledger", ledger_url, "--html", str(out_file))
    assert (code, err) == (0, "")
    assert out.strip() == f"wrote the report to {out_file} (open it in a browser; it prints on A4)"
    page = parse(out_file.read_text(encoding="utf-8"))
    assert Decimal(page.one(data_total="total_usd").attrs["data-value"]) == expected_usd(CALLS)
    assert page.one(data_total="calls").text == f"{len(CALLS):,}"


def test_since_and_until_choose_the_period(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    out_file = tmp_path / "day.html"
    code, _, _ = run(
        capsys, "report", "--ledger", ledger_url, "--since", "2025-06-02", "--until",
        "2025-06-03", "--html", str(out_file),
    )  # fmt: skip
    assert code == 0
    page = parse(out_file.read_text(encoding="utf-8"))
    day_one = [c for c in CALLS if c.ts < FIRST_DAY.timestamp() + 86_400]
    assert page.one(data_total="calls").text == str(len(day_one))
    assert [g.attrs["data-column"] for g in page.all("g", "column")] == ["2025-06-02"]


def test_a_folder_that_does_not_exist_is_one_line(
    capsys: pytest.CaptureFixture[str], ledger_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "nope" / "report.html"
    code, out, err = run(capsys, "report", "--ledger", ledger_url, "--html", str(target))
    assert code == 1 and out == ""
    assert err.startswith(f"holysheep report: cannot write the HTML report to {target}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_no_ledger_file_writes_nothing_and_says_how_to_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    url = f"sqlite:///{tmp_path / 'never.db'}"
    code, out, err = run(capsys, "report", "--ledger", url, "--html", str(target))
    assert code == 0 and not target.exists()
    assert err.strip() == f"holysheep report: nothing written to {target}"
    assert out.startswith("no calls recorded yet in")


def test_html_is_one_output_form_among_json_and_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--json", "--html", str(tmp_path / "r.html")])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
