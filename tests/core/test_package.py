"""The public surface: exports, framework independence, import time, README examples."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import holysheep
import pytest
from holysheep.testing import RelayEmulator

ROOT = Path(__file__).resolve().parents[2]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_importable() -> None:
    assert holysheep.__all__ == sorted(holysheep.__all__, key=_isort_key)
    assert len(set(holysheep.__all__)) == len(holysheep.__all__)
    for name in holysheep.__all__:
        assert getattr(holysheep, name) is not None, name


def test_api_md_names_are_exported() -> None:
    names = {
        "HolySheepClient",
        "RetryPolicy",
        "ModelCatalog",
        "ModelSpec",
        "Usage",
        "Cost",
        "HolySheepError",
        "AuthenticationError",
        "InsufficientCreditError",
        "RateLimitError",
        "ContextLengthError",
        "BadRequestError",
        "ModelNotFoundError",
        "UpstreamError",
        "APITimeoutError",
        "APIConnectionError",
        "StreamError",
        "BudgetExceededError",
        "NoModelAvailableError",
    }
    assert names <= set(holysheep.__all__)


_IMPORT_PROBE = textwrap.dedent(
    """
    import sys, time
    t = time.perf_counter()
    import {module}
    elapsed = time.perf_counter() - t
    bad = sorted(m for m in sys.modules
                 if m.split(".")[0] in {{"langchain_core", "llama_index", "aiohttp", "redis"}})
    print(elapsed, bad)
    """
)


def _import_seconds(module: str) -> tuple[float, str]:
    """Seconds to import ``module`` in a fresh interpreter, and any framework it pulled in."""
    code = _IMPORT_PROBE.format(module=module)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    elapsed, bad = out.stdout.split(" ", 1)
    return float(elapsed), bad.strip()


def test_import_pulls_no_framework() -> None:
    assert _import_seconds("holysheep")[1] == "[]"


def test_import_costs_little_beyond_its_own_dependencies() -> None:
    """A ratio against httpx + pydantic imported in the same run, so a busy machine cannot fail it.

    The absolute figure (under 150 ms) is held by ``benchmarks/bench_core.py``, not here.
    """
    ours, base = [], []
    for _ in range(3):  # interleaved and best of three: load hits both sides alike
        base.append(_import_seconds("httpx, pydantic, httpx_sse")[0])
        ours.append(_import_seconds("holysheep")[0])
    # holysheep itself adds its own modules on top of these; more than 2.5x means an eager
    # import of something heavy (a framework, the catalogue parser, asyncio's transports).
    assert min(ours) < 2.5 * min(base), (min(ours), min(base))


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_examples_run_against_the_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocks = _python_blocks(ROOT / "README.md")
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # examples may create files (a SQLite ledger)
    with RelayEmulator() as relay:
        monkeypatch.setenv("HOLYSHEEP_API_KEY", "readme-key")
        monkeypatch.setenv("HOLYSHEEP_BASE_URL", relay.base_url)
        for block in blocks:
            exec(compile(block, "README.md", "exec"), {})


def test_key_only_in_secret_form(monkeypatch: pytest.MonkeyPatch) -> None:
    client = holysheep.HolySheepClient(api_key="hs-super-secret-123")
    assert "hs-super-secret-123" not in repr(client)
    assert "hs-super-secret-123" not in str(vars(client))


def test_distribution_metadata_is_ready_to_publish() -> None:
    """Typed packages, classifiers and a homepage; each framework extra pulls only its framework."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the tomli backport the package depends on there
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for package in ("shared/holysheep", "langchain_holysheep", "llamaindex_holysheep"):
        assert (ROOT / package / "py.typed").is_file(), package
    assert "Typing :: Typed" in project["classifiers"]
    assert project["urls"]["Homepage"].startswith("https://")
    extras = project["optional-dependencies"]
    assert not any("llama" in dep for dep in extras["langchain"])
    assert not any("langchain" in dep for dep in extras["llamaindex"])
    for deps in project["optional-dependencies"].values():
        for dep in deps:
            assert "==" not in dep, f"{dep}: set lower bounds, pin nothing"
