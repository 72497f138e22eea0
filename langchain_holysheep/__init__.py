"""LangChain integration for the HolySheep relay (ChatHolySheep, cost callbacks)."""
