"""``holysheep demo``: the package end to end, on the real relay or the embedded emulator.

Shows the model list, a chat, a stream, a routed call with a fallback, a retried rate limit,
the LangChain and LlamaIndex integrations when installed, and what everything cost on the relay
next to paying the providers directly, read back from the cost ledger.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._client import HolySheepClient
from ._money_text import money_text
from .ledger import CostLedger
from .retry import RetryPolicy
from .wire import ChatCompletion

if TYPE_CHECKING:
    from .testing import RelayEmulator

__all__ = ["run_demo"]

SUMMARY = (
    "A relay gives one key and one bill for many model providers, with list prices charged "
    "in CNY at 1:1, so calls cost about a seventh of paying each provider directly."
)


def _line(label: str, completion: ChatCompletion) -> None:
    info = completion.call_info
    usage = info.usage
    tokens = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "no usage"
    price = f"${money_text(info.cost.total_usd, 6)}" if info.cost is not None else "price unknown"
    print(f"  [{label}: {completion.model}, {tokens}, {price}, {info.attempts} attempt(s)]")


def _say(completion: ChatCompletion) -> None:
    print(f"  > {completion.text}")


def _core_steps(client: HolySheepClient, emulator: RelayEmulator | None) -> None:
    models = client.list_models()
    print(f"1. The relay serves {len(models)} models, e.g. "
          f"{', '.join(m.id for m in models[:4])}.\n")

    print("2. A chat call (deepseek-v3.2):")
    reply = client.chat(model="deepseek-v3.2", app="demo", messages=[
        {"role": "user", "content": "In one sentence: why use an LLM relay?"}])
    _say(reply)
    _line("chat", reply)

    print("\n3. A streamed call (gemini-2.5-flash):\n  > ", end="")
    with client.stream(model="gemini-2.5-flash", app="demo", messages=[
            {"role": "user", "content": "Say hello in French."}]) as stream:
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta is not None and isinstance(choice.delta.content, str):
                    print(choice.delta.content, end="", flush=True)
    print()
    _line("stream", stream.completion)

    print('\n4. model="auto": the router classifies the task and picks a model.')
    if emulator is not None:
        print("   (gpt-4.1 is made to fail with 503s, so the router falls back.)")
        emulator.fail(503, times=2, model="gpt-4.1")  # both of its attempts
    routed = client.chat(model="auto", app="demo", messages=[
        {"role": "user", "content": "Write a Python function that reverses a string."}])
    route = routed.call_info.route
    print(f"   task {route.task!r} ({route.task_source}) -> {route.model}: {route.reason}")
    for fallback in route.fallbacks:
        print(f"   fallback: {fallback.from_model} -> {fallback.to_model} ({fallback.reason})")
    _say(routed)
    _line("auto", routed)

    if emulator is not None:
        print("\n5. A rate limit (429, Retry-After 0.2 s) retried by the one retry loop:")
        emulator.fail(429, retry_after=0.2)
        retried = client.chat(model="gpt-4.1-mini", app="demo", messages=[
            {"role": "user", "content": "Are you still there?"}])
        _say(retried)
        _line("retried", retried)


def _framework_steps(api_key: str, base_url: str) -> None:
    """The LangChain and LlamaIndex parts, when their extras are installed."""
    if importlib.util.find_spec("langchain_core") is not None:
        from ._demo_langchain import run_langchain_demo

        print()
        run_langchain_demo(api_key, base_url)
    if importlib.util.find_spec("llama_index") is not None:
        from ._demo_llamaindex import run_llamaindex_demo

        print()
        run_llamaindex_demo(api_key, base_url)


def _report(ledger: CostLedger) -> None:
    rows = ledger.totals(group_by=("model",))
    print("\nWhat the core client's calls cost, from the ledger (relay bill vs direct price):")
    for row in rows:
        usd = f"${row.total_usd:.6f}" if row.total_usd is not None else "?"
        print(f"  {row['model']:<20} {row.calls} call(s)  {usd:>11}  "
              f"relay ¥{row.relay_cny:.5f}  direct ¥{row.direct_cny:.5f}")
    [total] = ledger.totals(group_by=())
    if total.direct_cny:
        saved = 1 - total.relay_cny / total.direct_cny
        print(f"  total: relay ¥{total.relay_cny:.5f} against ¥{total.direct_cny:.5f} direct "
              f"at 7.3 CNY/USD: {saved:.1%} saved")


def is_loopback(base_url: str) -> bool:
    """True when ``base_url`` points at this machine (an emulator), not at the relay."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_demo(emulator: RelayEmulator | None, api_key: str | None = None,
             base_url: str | None = None) -> int:
    """Run the demo; with an emulator, replies are scripted and faults injected."""
    if emulator is not None:
        api_key, base_url = "demo-key-not-secret", emulator.base_url
        print(f"holysheep demo on the embedded relay emulator ({base_url})")
        print("(set HOLYSHEEP_API_KEY to run it against the real relay)\n")
        emulator.script(SUMMARY, "Bonjour ! Comment puis-je vous aider aujourd'hui ?")
    retry = RetryPolicy(max_attempts=2, initial_delay=0.05, max_delay=0.2)
    with CostLedger("memory") as ledger, HolySheepClient(
        api_key=api_key, base_url=base_url, ledger=ledger, retry=retry
    ) as client:
        if emulator is None and is_loopback(client.base_url):
            print(f"holysheep demo on a relay emulator at {client.base_url} (a loopback address)")
            print("(unset HOLYSHEEP_BASE_URL to run it against the real relay)\n")
        elif emulator is None:
            print(f"holysheep demo on the HolySheep relay ({client.base_url})\n")
        _core_steps(client, emulator)
        _framework_steps(api_key or os.environ.get("HOLYSHEEP_API_KEY", ""), client.base_url)
        _report(ledger)
    return 0
