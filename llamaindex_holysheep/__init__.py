"""LlamaIndex integration for the HolySheep relay: the ``HolySheep`` LLM and a cost handler.

``HolySheep`` is a ``FunctionCallingLLM`` over the shared ``holysheep`` core (one retry loop,
usage and cost on every response, streams included); ``HolySheepCostHandler`` totals tokens and
USD per served model and per task label from LlamaIndex's instrumentation events.
"""

from .cost_handler import HolySheepCostHandler
from .llm import HolySheep

__all__ = ["HolySheep", "HolySheepCostHandler"]
