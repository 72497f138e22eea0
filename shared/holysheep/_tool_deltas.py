"""Which tool call a streamed tool-call fragment belongs to, the same way for every consumer.

Providers disagree on how a fragment names its call: Mistral omits ``index``
(mistral-stream-tool-call-no-index), Qwen sends ``id: ""`` on continuations
(alibaba-qwen-stream-tool-call-empty-id), a gateway starts at 1
(gateway-anthropic-stream-tool-call-index-1), and some repeat the id or the name on every
fragment. ``ToolCallIndexer`` turns each fragment into (index, id if new, name text if new), so a
consumer that merges by index and concatenates strings (LangChain's ``tool_call_chunks``)
assembles exactly the calls that ``StreamAccumulator`` assembles. Sans-I/O, one per choice.
"""

from __future__ import annotations

__all__ = ["ToolCallIndexer"]


class ToolCallIndexer:
    """Per-choice state of one stream's tool calls: first id and name text seen per index."""

    __slots__ = ("_ids", "_names", "_top")

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._top = -1

    def place(
        self, index: int | None, call_id: str | None, name: str | None
    ) -> tuple[int, str | None, str | None]:
        """Normalise one fragment: its call's index, its id when first seen, its new name text.

        Args:
            index: The fragment's ``index`` as sent (``None`` when the provider left it out).
            call_id: The fragment's ``id`` as sent (``None`` or ``""`` on continuations).
            name: The fragment's ``function.name`` as sent.

        Returns:
            ``(index, id, name)``: the index of the call the fragment continues or starts; the
            id only on the first fragment that carries a non-empty one (else ``None``); the name
            text not already seen for that call (a repeated full name gives ``None``).
        """
        if index is None:
            # A new non-empty id starts a call; anything else continues the latest one.
            top = self._top
            known = self._ids.get(top)
            index = top + 1 if top < 0 or (call_id and known and call_id != known) else top
        if index > self._top:
            self._top = index
        new_id = None
        if call_id and index not in self._ids:
            self._ids[index] = new_id = call_id
        new_name = None
        if name:
            seen = self._names.get(index, "")
            if seen != name:
                self._names[index] = seen + name
                new_name = name
        return index, new_id, new_name
