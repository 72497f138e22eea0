"""What the ``bench_*.py`` scripts share: CLI, loopback server, timing, import timing, reporting.

Each script keeps only its clients, its rows and its targets. Client CPU is
``time.process_time()`` of this process (all its threads), wall is ``time.perf_counter()``; each
batch starts with ``gc.collect()``; each measurement runs ``--rounds`` times, interleaving the
clients, and keeps the best round (noise only ever adds). Importing this module puts ``shared/``
and the repository root on ``sys.path``, so the scripts run from the source tree.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT / "shared"
SOURCE_PATHS = (str(SHARED), str(ROOT))
for _path in reversed(SOURCE_PATHS):  # run from the source tree without installing
    if _path not in sys.path:
        sys.path.insert(0, _path)

Results = dict[str, dict[str, float]]
"""Measurement key -> client name -> value."""

# ---------------------------------------------------------------- CLI and loopback server


@dataclass(frozen=True)
class Config:
    """How much work each measurement does."""

    calls: int
    async_calls: int
    concurrency: int
    stream_calls: int
    chunks: int
    rounds: int
    import_runs: int


def setup(doc: str, json_name: str, quick: dict[str, int], full: dict[str, int], *,
          profile_help: str, noun: str = "chat calls", top: int = 30,
          argv: list[str] | None = None) -> tuple[argparse.Namespace, Config]:
    """Parse the flags every script takes; the counts: ``quick`` or ``full``, flags first."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round")
    parser.add_argument("--calls", type=int, help=f"sync {noun} per round ({full['calls']})")
    parser.add_argument("--async-calls", type=int,
                        help=f"async {noun} per round ({full['async_calls']})")
    parser.add_argument("--concurrency", type=int, default=64, help="async concurrency (64)")
    parser.add_argument("--stream-calls", type=int,
                        help=f"streamed calls per round ({full['stream_calls']})")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--rounds", type=int,
                        help=f"rounds per measurement, best kept ({full['rounds']})")
    parser.add_argument("--import-runs", type=int,
                        help=f"fresh interpreters per import ({full['import_runs']})")
    parser.add_argument("--skip", action="append", default=[],
                        choices=("sync", "async", "import"), help="leave a group out")
    parser.add_argument("--json", type=Path, default=HERE / "results" / json_name)
    parser.add_argument("--profile", action="store_true", help=profile_help)
    parser.add_argument("--top", type=int, default=top, help="rows of --profile output")
    args = parser.parse_args(argv)
    defaults = quick if args.quick else full
    picked = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in defaults.items()}
    return args, Config(concurrency=args.concurrency, chunks=args.chunks, **picked)


@contextmanager
def loopback_server(chunks: int) -> Iterator[str]:
    """Start ``_server.py`` in its own process; yield its ``/v1`` base URL; stop it after."""
    argv = [str(HERE / "_server.py"), "--port", "0", "--chunks", str(chunks)]
    with server_process(argv) as base_url:
        yield base_url


@contextmanager
def server_process(argv: list[str]) -> Iterator[str]:
    """Run ``python *argv`` (a server that prints ``PORT n`` first); yield its ``/v1`` URL."""
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------- timing the clients


@dataclass(frozen=True)
class Sample:
    """One timed batch of ``calls`` calls."""

    calls: int
    cpu: float
    wall: float

    @property
    def cpu_us(self) -> float:
        """Client CPU microseconds per call."""
        return self.cpu / self.calls * 1e6

    @property
    def wall_us(self) -> float:
        """Wall microseconds per call."""
        return self.wall / self.calls * 1e6

    @property
    def rate(self) -> float:
        """Calls per wall second."""
        return self.calls / self.wall


def run_sync(fn: Callable[[], object], calls: int) -> Sample:
    """Time ``calls`` sequential calls of ``fn``."""
    gc.collect()  # start clean: no collection of earlier garbage billed to this batch
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


async def run_async(fn: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> Sample:
    """Time ``calls`` calls of ``fn`` made by ``concurrency`` worker tasks sharing one queue."""
    todo = iter(range(calls))
    gc.collect()

    async def worker() -> None:
        for _ in todo:
            await fn()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(calls, time.process_time() - cpu, time.perf_counter() - wall)


def best(samples: dict[str, list[Sample]], metric: Callable[[Sample], float],
         highest: bool = False) -> dict[str, float]:
    """The best round of each client by ``metric``."""
    pick = max if highest else min
    return {name: pick(metric(s) for s in runs) for name, runs in samples.items()}


def _absent() -> Any:
    """The default of a call a contender does not make."""
    raise NotImplementedError("this contender does not make that call")


@dataclass
class Contender:
    """One client under test: the calls a script times (``stream`` returns the chunks it saw)."""

    chat: Callable[[], object] = _absent
    stream: Callable[[], int] = _absent
    achat: Callable[[], Awaitable[object]] = _absent
    close: Callable[[], object] = lambda: None
    aclose: Callable[[], Awaitable[object]] | None = None


Contenders = dict[str, Contender]


@contextmanager
def opened(contenders: Contenders) -> Iterator[Contenders]:
    """Yield ``contenders``; ``close()`` every one of them afterwards."""
    try:
        yield contenders
    finally:
        for contender in contenders.values():
            contender.close()


async def aclose_all(contenders: Contenders) -> None:
    """``await aclose()`` every contender that has one, ``close()`` the others."""
    for contender in contenders.values():
        if contender.aclose is not None:
            await contender.aclose()
        else:
            contender.close()


def measure_sync(contenders: Contenders, cfg: Config, prefix: str,
                 check_frames: bool = False) -> Results:
    """Sequential chat and stream calls: CPU/wall per call, CPU per chunk, wall per stream.

    Keys: ``{prefix}_cpu_us``, ``{prefix}_wall_us``, ``stream_cpu_us_chunk``,
    ``stream_net_cpu_us_chunk`` (stream minus chat CPU, per chunk) and ``stream_wall_ms``.
    """
    frames = cfg.chunks + 2  # content chunks + finish chunk + usage chunk on the wire
    for name, contender in contenders.items():  # warm up: connections, caches, lazy imports
        run_sync(contender.chat, max(50, cfg.calls // 10))
        if check_frames and (got := contender.stream()) != frames:
            raise RuntimeError(f"{name} streamed {got} chunks, expected {frames}")
        run_sync(contender.stream, 5)
    chat: dict[str, list[Sample]] = {name: [] for name in contenders}
    stream: dict[str, list[Sample]] = {name: [] for name in contenders}
    for _ in range(cfg.rounds):  # each round: every client's chat, then every client's stream
        for name, contender in contenders.items():
            chat[name].append(run_sync(contender.chat, cfg.calls))
        for name, contender in contenders.items():
            stream[name].append(run_sync(contender.stream, cfg.stream_calls))
    chat_cpu = best(chat, lambda s: s.cpu_us)
    stream_cpu = best(stream, lambda s: s.cpu_us)
    return {
        f"{prefix}_cpu_us": chat_cpu,
        f"{prefix}_wall_us": best(chat, lambda s: s.wall_us),
        "stream_cpu_us_chunk": {n: v / frames for n, v in stream_cpu.items()},
        "stream_net_cpu_us_chunk": {n: (v - chat_cpu[n]) / frames for n, v in stream_cpu.items()},
        "stream_wall_ms": best(stream, lambda s: s.wall_us / 1000),
    }


async def measure_async(contenders: Contenders, cfg: Config) -> Results:
    """``achat`` at ``cfg.concurrency`` in this event loop: ``async_rate``, ``async_cpu_us``."""
    for contender in contenders.values():  # warm up: open every connection of the pool
        await run_async(contender.achat, cfg.concurrency * 4, cfg.concurrency)
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for _ in range(cfg.rounds):
        for name, contender in contenders.items():
            samples[name].append(
                await run_async(contender.achat, cfg.async_calls, cfg.concurrency))
    return {
        "async_rate": best(samples, lambda s: s.rate, highest=True),
        "async_cpu_us": best(samples, lambda s: s.cpu_us),
    }


def measure_groups(cfg: Config, skip: list[str], sync: Callable[[str], Results],
                   asynchronous: Callable[[str], Coroutine[Any, Any, Results]]) -> Results:
    """Start the server; ``sync(url)``, then ``asynchronous(url)`` in an event loop (or skip)."""
    results: Results = {}
    with loopback_server(cfg.chunks) as base_url:
        if "sync" not in skip:
            results |= sync(base_url)
        if "async" not in skip:
            results |= asyncio.run(asynchronous(base_url))
    return results


# ---------------------------------------------------------------- import time


def import_times(statements: dict[str, str], runs: int, setup: str = "") -> dict[str, float]:
    """Median wall ms of each statement in ``runs`` fresh interpreters (after one warm-up run).

    ``setup`` runs before the clock starts. Bytecode is cached in a temporary
    ``PYTHONPYCACHEPREFIX``, as for an installed package, even when ``PYTHONDONTWRITEBYTECODE``
    is set; the source tree is not written to.
    """
    before = f"{setup}; " if setup else ""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*SOURCE_PATHS, env.get("PYTHONPATH")]))
    medians = {}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        env["PYTHONPYCACHEPREFIX"] = pycache
        for key, statement in statements.items():
            code = (f"import time; {before}t = time.perf_counter(); {statement}; "
                    "print(time.perf_counter() - t)")
            times = [float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                          capture_output=True, text=True).stdout) * 1000
                     for _ in range(runs + 1)]
            medians[key] = statistics.median(times[1:])  # the first run fills the cache
    return medians


# ---------------------------------------------------------------- reporting and profiling


@dataclass(frozen=True)
class Row:
    """One line of the table: a measurement, its label, its number format and its target."""

    key: str
    label: str
    fmt: str = "{:.1f}"
    target: str = ""
    check: Callable[[float, float], bool] | None = None  # (holysheep value, ratio) -> ok


@dataclass(frozen=True)
class Table:
    """A script's table: its clients (columns), the ratio's denominator, its rows."""

    names: tuple[str, ...]
    baseline: str
    ratio_header: str
    rows: tuple[Row, ...]


def tabulate(results: Results, spec: Table, concurrency: int) -> list[dict[str, Any]]:
    """The measured rows as plain dicts, with holysheep/baseline and the target's verdict."""
    table = []
    for row in spec.rows:
        values = results.get(row.key)
        if values is None:
            continue
        ours = values["holysheep"]
        ratio = ours / values[spec.baseline] if values[spec.baseline] else float("nan")
        ok = row.check(ours, ratio) if row.check else None
        table.append({"key": row.key, "label": row.label.format(c=concurrency), **values,
                      "ratio": ratio, "target": row.target, "ok": ok, "fmt": row.fmt})
    return table


def render(table: list[dict[str, Any]], names: tuple[str, ...], ratio_header: str) -> str:
    """A fixed-width text table; a client with no value in a row shows ``-``."""
    header = ("measurement", *names, ratio_header, "target", "")
    lines = [header]
    for row in table:
        cells = [row["fmt"].format(row[name]) if name in row else "-" for name in names]
        mark = {True: "ok", False: "MISS", None: ""}[row["ok"]]
        lines.append((row["label"], *cells, f"{row['ratio']:.2f}x", row["target"], mark))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    left = (0, len(header) - 2)  # the label and target columns
    out = ["  ".join(cell.ljust(w) if j in left else cell.rjust(w)
                     for j, (cell, w) in enumerate(zip(line, widths, strict=True)))
           for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine_info(packages: tuple[str, ...], implementation: bool = False) -> dict[str, Any]:
    """Where the numbers come from: Python, platform, CPU count and ``packages``' versions."""
    from importlib.metadata import version

    info: dict[str, Any] = {"python": platform.python_version()}
    if implementation:
        info["implementation"] = platform.python_implementation()
    info |= {"platform": platform.platform(), "cpu_count": os.cpu_count(),
             "packages": {name: version(name) for name in packages}}
    return info


def write_json(path: Path, cfg: Config, table: list[dict[str, Any]], machine: dict[str, Any],
               digits: int | None = None, **extra: Any) -> None:
    """Save the run: timestamp, machine, config, rows (floats rounded to ``digits``), ``extra``."""
    def keep(value: Any) -> Any:  # rounded floats, if ``digits``
        return round(value, digits) if digits is not None and isinstance(value, float) else value

    doc = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "config": asdict(cfg),
        "results": [{k: keep(v) for k, v in row.items() if k != "fmt"} for row in table],
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def finish(spec: Table, results: Results, cfg: Config, path: Path, started: float,
           packages: tuple[str, ...], *, implementation: bool = False, note: str = "",
           digits: int | None = None, **extra: Any) -> None:
    """Print the table (then ``note``) and the run's footer; write the JSON to ``path``."""
    table = tabulate(results, spec, cfg.concurrency)
    print(render(table, spec.names, spec.ratio_header) + note)
    print(f"\n{cfg}\nran in {time.perf_counter() - started:.1f} s; python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs; JSON: {path}")
    write_json(path, cfg, table, machine_info(packages, implementation), digits, **extra)


def print_profile(profiler: Any, title: str, top: int, focus: tuple[str, ...] = ()) -> None:
    """The ``top`` functions by self time, then (if ``focus``) those inside the named packages."""
    import pstats

    stats = pstats.Stats(profiler).sort_stats("tottime")
    print(f"\n=== {title}: top {top} by self time ===")
    stats.print_stats(top)
    if focus:
        print(f"=== {title}: inside {' and '.join(focus)} ===")
        stats.print_stats("|".join(focus), top)


def profile_sync(contender: Contender, cfg: Config, name: str, top: int,
                 focus: tuple[str, ...] = (), chat_label: str = "chat") -> None:
    """cProfile ``contender``'s chat and stream calls (after a short warm-up); close it."""
    import cProfile

    with opened({name: contender}):
        run_sync(contender.chat, 50)
        run_sync(contender.stream, 5)
        for label, fn, calls in ((chat_label, contender.chat, cfg.calls),
                                 ("stream", contender.stream, cfg.stream_calls)):
            profiler = cProfile.Profile()
            profiler.runcall(run_sync, fn, calls)
            print_profile(profiler, f"{name} {label}, {calls} calls", top, focus)


def load_package_at(rev: str, folder: str, name: str) -> Any:
    """The package in ``folder`` (e.g. ``shared/holysheep/ledger``) as it was at git ``rev``,
    loaded beside the current one as ``holysheep.<name>`` (it shares the rest of the current
    core), so a benchmark can time before and after in one run."""
    import holysheep

    names = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:{folder}"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    target = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    atexit.register(shutil.rmtree, target, True)
    for file in names:
        if file.endswith(".py"):
            source = subprocess.run(["git", "show", f"{rev}:{folder}/{file}"], cwd=ROOT,
                                    check=True, capture_output=True).stdout
            (target / file).write_bytes(source)
    package = f"{holysheep.__name__}.{name}"
    spec = importlib.util.spec_from_file_location(
        package, target / "__init__.py", submodule_search_locations=[str(target)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return module
