"""LlamaIndex integration for the HolySheep relay: the ``HolySheep`` LLM and a cost handler.

``HolySheep`` is a ``FunctionCallingLLM`` over the shared ``holysheep`` core (one retry loop,
usage and cost on every response, streams included); ``HolySheepCostHandler`` totals tokens and
USD per served model and per task label from LlamaIndex's instrumentation events.
"""

try:
    import llama_index.core  # noqa: F401 - checked first, to name the extra that installs it
except ModuleNotFoundError as exc:
    raise ModuleNotFoundError(
        f"llamaindex_holysheep needs LlamaIndex (llama-index-core), which is not installed "
        f'({exc}); run: pip install "holysheep[llamaindex]"',
        name=exc.name,
    ) from exc

from .cost_handler import HolySheepCostHandler
from .llm import HolySheep

__all__ = ["HolySheep", "HolySheepCostHandler"]
