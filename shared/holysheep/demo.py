"""``holysheep demo``: the core end to end, on the real relay or the embedded emulator.

Shows the model list, a chat, a stream, a retried rate limit, and what the calls cost on the
relay next to paying the providers directly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ._client import HolySheepClient
from .catalog import ModelCatalog
from .costs import Cost
from .usage import Usage
from .wire import ChatCompletion

if TYPE_CHECKING:
    from .testing import RelayEmulator

__all__ = ["run_demo"]

SUMMARY = (
    "A relay gives one key and one bill for many model providers, with list prices charged "
    "in CNY at 1:1, so calls cost about a seventh of paying each provider directly."
)


def _line(label: str, completion: ChatCompletion, catalog: ModelCatalog) -> Cost | None:
    usage = Usage.from_wire(completion.usage)
    cost = catalog.cost(completion.model, usage) if usage is not None else None
    tokens = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "no usage"
    price = f"${cost.total_usd:.6f}" if cost is not None else "price unknown"
    print(f"  {label:<14} {completion.model:<20} {tokens:<18} {price}")
    return cost


def run_demo(
    emulator: RelayEmulator | None, api_key: str | None = None, base_url: str | None = None
) -> int:
    """Run the demo; with an emulator, replies are scripted and a 429 is injected."""
    if emulator is not None:
        api_key, base_url = "demo-key-not-secret", emulator.base_url
        print(f"holysheep demo on the embedded relay emulator ({base_url})")
        print("  (set HOLYSHEEP_API_KEY to run it against the real relay)\n")
        emulator.script(SUMMARY, "Bonjour ! Comment puis-je vous aider aujourd'hui ?")
    else:
        print("holysheep demo on the HolySheep relay\n")
    catalog = ModelCatalog.default()
    costs: list[Cost] = []
    with HolySheepClient(api_key=api_key, base_url=base_url) as client:
        models = client.list_models()
        print(
            f"1. the relay serves {len(models)} models, e.g. "
            f"{', '.join(m.id for m in models[:4])}\n"
        )

        print("2. a chat call (summarization -> deepseek-v3.2):")
        reply = client.chat(
            model="deepseek-v3.2",
            messages=[{"role": "user", "content": "In one sentence: why use an LLM relay?"}],
        )
        print(f"  > {reply.text}")
        costs.append(_line("chat", reply, catalog))

        print("\n3. a streamed call (translation -> gemini-2.5-flash):")
        print("  > ", end="")
        with client.stream(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "Say hello in French."}]
        ) as stream:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta is not None and isinstance(choice.delta.content, str):
                        print(choice.delta.content, end="", flush=True)
        print()
        costs.append(_line("stream", stream.completion, catalog))

        if emulator is not None:
            print("\n4. a rate limit (429, Retry-After 0.2 s) retried by the one retry loop:")
            emulator.fail(429, retry_after=0.2)
            retried = client.chat(
                model="gpt-4.1", messages=[{"role": "user", "content": "Are you still there?"}]
            )
            print(f"  > {retried.text}  (after {len(emulator.requests) - 3} attempts)")
            costs.append(_line("retried chat", retried, catalog))

    known = [c for c in costs if c is not None]
    if known:
        total = sum(known[1:], known[0])
        rate = Decimal("7.3")
        print(
            f"\ntotal: ${total.total_usd:.6f} of list price; the relay bills "
            f"¥{total.relay_cny:.5f}, paying providers directly would cost "
            f"¥{total.direct_cny:.5f} at {rate} CNY/USD (saves {total.savings_ratio:.0%})."
        )
    return 0
