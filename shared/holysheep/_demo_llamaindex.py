"""The LlamaIndex part of ``holysheep demo``: a query engine answering over three documents.

Builds a tiny ``VectorStoreIndex`` with a local mock embedding (nothing downloaded), asks one
question through a query engine whose LLM is ``llamaindex_holysheep.HolySheep``, and prints the
answer with its tokens and cost from ``HolySheepCostHandler``. Needs ``holysheep[llamaindex]``;
the caller guards the import. The only network it touches is ``base_url``.
"""

from __future__ import annotations

import textwrap

__all__ = ["run_llamaindex_demo"]

DOCUMENTS = (
    "HolySheep is a relay: one API key and one bill for GPT-4.1, Claude Sonnet 4.5, "
    "Gemini 2.5 Flash, DeepSeek V3.2 and more, behind an OpenAI-compatible endpoint.",
    "The relay bills 1 CNY per 1 USD of list price, so a call costs about a seventh of "
    "paying the provider directly at the market rate of about 7.3 CNY per USD.",
    "Task labels route calls: summarization goes to deepseek-v3.2, question answering to "
    "gemini-2.5-flash, code generation to gpt-4.1 and analysis to claude-sonnet-4.5.",
)
QUESTION = "How much cheaper is a call through the relay than paying the provider directly?"
MODEL = "gemini-2.5-flash"


def run_llamaindex_demo(api_key: str, base_url: str) -> None:
    """Answer one question with a LlamaIndex query engine on the relay and print its cost.

    Args:
        api_key: The HolySheep key (any non-empty string for the emulator).
        base_url: The relay URL, e.g. the emulator's ``base_url``.
    """
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding

    from llamaindex_holysheep import HolySheep, HolySheepCostHandler

    print(f"LlamaIndex: a query engine over {len(DOCUMENTS)} documents ({MODEL}, task qa)")
    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in DOCUMENTS], embed_model=MockEmbedding(embed_dim=8)
    )
    llm = HolySheep(model=MODEL, api_key=api_key, base_url=base_url, task="qa")
    try:
        with HolySheepCostHandler() as cost:
            engine = index.as_query_engine(llm=llm, similarity_top_k=2)
            answer = str(engine.query(QUESTION)).strip()
    finally:
        llm.close()
    print(f"  Q: {QUESTION}")
    shown = textwrap.shorten(" ".join(answer.split()), width=300, placeholder=" ...")
    print(textwrap.fill(shown, width=96, initial_indent="  A: ", subsequent_indent="     "))
    usage, total = cost.usage, cost.cost
    print(f"  {cost.calls} call(s), {usage.prompt_tokens}+{usage.completion_tokens} tokens")
    if total is None:
        print("  cost unknown: the model has no price in the catalogue")
    else:
        print(
            f"  ${total.total_usd:.6f} of list price; the relay bills ¥{total.relay_cny:.6f}, "
            f"the provider directly ¥{total.direct_cny:.6f}"
        )
