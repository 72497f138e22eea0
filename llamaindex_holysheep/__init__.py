"""LlamaIndex integration for the HolySheep relay (the HolySheep LLM, cost handler)."""
