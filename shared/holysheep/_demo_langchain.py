"""The LangChain part of ``holysheep demo``: an LCEL chain on ChatHolySheep, and what it cost.

Runs ``prompt | ChatHolySheep | StrOutputParser`` once with ``invoke`` and once streamed, inside
``get_holysheep_callback()``, then prints the answers and the totals per model and task label.
LangChain is optional: without it this prints how to install it and returns.
"""

from __future__ import annotations

__all__ = ["run_langchain_demo"]


def run_langchain_demo(api_key: str, base_url: str) -> None:
    """Run a small LangChain chain on the relay at ``base_url`` and print what it cost."""
    try:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        from langchain_holysheep import ChatHolySheep, get_holysheep_callback
    except ImportError:
        print('LangChain is not installed: pip install "holysheep[langchain]" to see this part.')
        return

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer in one short sentence."), ("human", "{question}")]
    )
    model = ChatHolySheep(model="deepseek-v3.2", api_key=api_key, base_url=base_url, app="demo")
    chain = prompt | model | StrOutputParser()

    print("LangChain: prompt | ChatHolySheep | StrOutputParser, under get_holysheep_callback()")
    with get_holysheep_callback() as cb:
        answer = chain.invoke(
            {"question": "What does an LLM relay do?"},
            config={"metadata": {"task": "summarization"}},
        )
        print(f"  invoke > {answer}")
        print("  stream > ", end="")
        for piece in chain.stream(
            {"question": "Say hello in French."}, config={"metadata": {"task": "translation"}}
        ):
            print(piece, end="", flush=True)
        print()

    for model_name, totals in cb.by_model.items():
        usd = f"${totals.total_usd:.6f}" if totals.total_usd is not None else "price unknown"
        print(
            f"  {model_name:<18} {totals.requests} calls  {totals.usage.total_tokens} tokens  {usd}"
        )
    for task, totals in cb.by_task.items():
        usd = f"${totals.total_usd:.6f}" if totals.total_usd is not None else "price unknown"
        print(f"  task {task or '-':<13} {totals.requests} calls  {usd}")
    cost = cb.totals.cost
    if cost is not None:
        print(
            f"  chain total: {cb.total_tokens} tokens, ${cost.total_usd:.6f} of list price; the "
            f"relay bills ¥{cost.relay_cny:.5f} instead of ¥{cost.direct_cny:.5f} direct."
        )
