"""LangChain integration for the HolySheep relay: ``ChatHolySheep`` and the cost callback.

``ChatHolySheep`` is a ``BaseChatModel`` over the shared ``holysheep`` core (not over the openai
SDK): usage on streams by default, reasoning kept, the served model and cost in
``response_metadata``. ``get_holysheep_callback()`` totals tokens and USD per model and per task
label for any LangChain chat model. ``HolySheepRouter`` is the routing chain: a Runnable from
``{"task": label or None, "input": ...}`` to the message of the model the router picked.
"""

try:
    import langchain_core  # noqa: F401 - checked first, to name the extra that installs it
except ModuleNotFoundError as exc:
    raise ModuleNotFoundError(
        f"langchain_holysheep needs LangChain (langchain-core), which is not installed ({exc}); "
        'run: pip install "holysheep[langchain]"',
        name=exc.name,
    ) from exc

from .callbacks import HolySheepCostCallbackHandler, get_holysheep_callback
from .chat_models import ChatHolySheep
from .router import HolySheepRouter

__all__ = [
    "ChatHolySheep",
    "HolySheepCostCallbackHandler",
    "HolySheepRouter",
    "get_holysheep_callback",
]
