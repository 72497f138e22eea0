"""LangChain integration for the HolySheep relay: ``ChatHolySheep`` and the cost callback.

``ChatHolySheep`` is a ``BaseChatModel`` over the shared ``holysheep`` core (not over the openai
SDK): usage on streams by default, reasoning kept, the served model and cost in
``response_metadata``. ``get_holysheep_callback()`` totals tokens and USD per model and per task
label for any LangChain chat model.
"""

from .callbacks import HolySheepCostCallbackHandler, get_holysheep_callback
from .chat_models import ChatHolySheep

__all__ = ["ChatHolySheep", "HolySheepCostCallbackHandler", "get_holysheep_callback"]
