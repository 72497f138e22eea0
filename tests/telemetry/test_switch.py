"""Turning telemetry on and off: ``instrument()``, ``uninstrument()``, ``HOLYSHEEP_OTEL=1``, and
no ``opentelemetry`` import at all while it is off (checked in fresh interpreters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import holysheep
import pytest
from holysheep import HolySheepClient
from holysheep.telemetry import is_instrumented

from .conftest import Telemetry, chat, stream

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter on this tree; it prints one JSON line we return."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HOLYSHEEP_", "OTEL_"))}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


CALLS = """
    import json, sys, warnings
    warnings.simplefilter("error")
    import holysheep
    from holysheep.testing import RelayEmulator
    with RelayEmulator() as relay:
        with holysheep.HolySheepClient(api_key="k-123456789", base_url=relay.base_url) as c:
            c.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
            with c.stream(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]) as s:
                list(s)
            holysheep.uninstrument()
"""


def test_off_nothing_imports_opentelemetry() -> None:
    got = run_python(CALLS + """
    print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
    """)
    assert got == []


def test_holysheep_otel_env_instruments_at_import_with_the_global_providers() -> None:
    """The service sets its providers after importing holysheep, as many do: spans still flow."""
    got = run_python("""
    import json
    import holysheep
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from holysheep.telemetry import is_instrumented
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    from holysheep.testing import RelayEmulator
    with RelayEmulator() as relay:
        with holysheep.HolySheepClient(api_key="k-123456789", base_url=relay.base_url) as c:
            c.chat(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    names = [m.name for rm in reader.get_metrics_data().resource_metrics
             for sm in rm.scope_metrics for m in sm.metrics]
    spans = [s.name for s in exporter.get_finished_spans()]
    print(json.dumps({"on": is_instrumented(), "spans": spans, "metrics": sorted(names)}))
    """, HOLYSHEEP_OTEL="1")
    assert got == {
        "on": True,
        "spans": ["chat gpt-4.1"],
        "metrics": ["gen_ai.client.operation.duration", "gen_ai.client.token.usage",
                    "holysheep.cost"],
    }


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_holysheep_otel_off_values_leave_it_off(value: str) -> None:
    got = run_python("""
    import json, sys
    import holysheep
    print(json.dumps([m for m in sys.modules if m.startswith("opentelemetry")]))
    """, HOLYSHEEP_OTEL=value)
    assert got == []


WITHOUT_OTEL = """
    import json, sys, warnings
    sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
"""


def test_instrument_without_opentelemetry_says_what_to_install() -> None:
    got = run_python(WITHOUT_OTEL + """
    import holysheep
    try:
        holysheep.instrument()
    except holysheep.ConfigurationError as exc:
        print(json.dumps(str(exc)))
    """)
    assert 'pip install "holysheep[otel]"' in got


def test_the_env_switch_without_opentelemetry_warns_and_the_import_still_works() -> None:
    got = run_python(WITHOUT_OTEL + """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import holysheep
    print(json.dumps([str(w.message) for w in caught]))
    """, HOLYSHEEP_OTEL="1")
    assert len(got) == 1 and "HOLYSHEEP_OTEL" in got[0] and "holysheep[otel]" in got[0]


def test_uninstrument_stops_spans_and_instrument_resumes(
    client: HolySheepClient, otel: Telemetry, side: str
) -> None:
    chat(client, side)
    holysheep.uninstrument()
    assert not is_instrumented()
    chat(client, side)
    stream(client, side)
    holysheep.uninstrument()  # twice is fine
    assert len(otel.spans()) == 1
    otel.reinstrument()
    assert is_instrumented()
    stream(client, side)
    assert len(otel.spans()) == 2


def test_a_stream_opened_before_uninstrument_still_ends_its_span(
    client: HolySheepClient, otel: Telemetry
) -> None:
    with client.stream(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]) as s:
        next(iter(s))
        holysheep.uninstrument()
        list(s)
    assert [span.name for span in otel.spans()] == ["chat gpt-4.1"]


def test_the_public_names_are_exported() -> None:
    assert {"instrument", "uninstrument"} <= set(holysheep.__all__)
    assert holysheep.instrument is not None and holysheep.uninstrument is not None
    with pytest.raises(TypeError):
        holysheep.instrument(object())  # type: ignore[misc]  # keyword-only providers


class _BrokenTracer:
    """A tracer whose every span fails, as a misbehaving SDK or exporter plug-in might."""

    def start_span(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("tracer is broken")


class _BrokenProvider:
    def get_tracer(self, *args: object, **kwargs: object) -> _BrokenTracer:
        return _BrokenTracer()


def test_broken_telemetry_never_costs_the_caller_a_call(
    client: HolySheepClient, otel: Telemetry, side: str, caplog: pytest.LogCaptureFixture
) -> None:
    holysheep.instrument(tracer_provider=_BrokenProvider(), meter_provider=otel.meter_provider)
    assert chat(client, side).text
    chunks, _ = stream(client, side)
    assert chunks
    assert "telemetry failed" in caplog.text
