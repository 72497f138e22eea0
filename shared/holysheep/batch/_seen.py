"""Compact string -> number tables: custom_ids one input has used, keys a run has answered.

A run refuses a ``custom_id`` that an earlier line of the same input used for another body. A
dict of the ids themselves cost ~150 bytes a line (150 MB for a million lines); this table keeps
a 64-bit hash of each id and a 32-bit fingerprint of its body in two flat arrays (open
addressing, linear probing, load 1/3 to 2/3): 18-36 bytes a line, 25 MB for a million lines.
"""

from __future__ import annotations

from array import array

__all__ = ["KeyRows", "SeenIds"]

_EMPTY = 0
_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


class _Slots:
    """Open addressing (linear probing, load 1/3 to 2/3) of 64-bit keys to numbers, in two
    flat arrays: a few dozen bytes an entry where a dict of strings takes ~150."""

    __slots__ = ("_count", "_keys", "_mask", "_values")

    def __init__(self, code: str, capacity: int) -> None:
        size = 1 << max(4, (capacity - 1).bit_length())
        self._keys = array("Q", [_EMPTY]) * size
        self._values = array(code, [0]) * size
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found in (key, _EMPTY):
                return slot
            slot = (slot + 1) & mask

    def _add(self, slot: int, key: int, value: int) -> None:
        """Fill the empty ``slot`` (from ``_slot``)."""
        self._keys[slot] = key
        self._values[slot] = value
        self._count += 1
        if 3 * self._count > 2 * (self._mask + 1):  # keep the load under 2/3: short probes
            self._grow()

    def _grow(self) -> None:
        """Double the table and place every entry again."""
        old_keys, old_values = self._keys, self._values
        size = 2 * len(old_keys)
        keys = array("Q", [_EMPTY]) * size
        values = array(old_values.typecode, [0]) * size
        mask = size - 1
        for key, value in zip(old_keys, old_values, strict=True):
            if key == _EMPTY:
                continue
            slot = key & mask
            while keys[slot] != _EMPTY:
                slot = (slot + 1) & mask
            keys[slot] = key
            values[slot] = value
        self._keys, self._values, self._mask = keys, values, mask


def _key(text: str) -> int:
    return (hash(text) & _MASK64) or 1  # 0 marks an empty slot


class SeenIds(_Slots):
    """custom_id -> body fingerprint of its first use; ``first_body`` is the one operation.

    Two ids with the same 64-bit hash and different bodies would be taken for one reused id
    (about one chance in 10^7 for a million-line input); a body fingerprint clash can only
    miss a refusal, never make one."""

    __slots__ = ()

    def __init__(self, capacity: int = 1024) -> None:
        super().__init__("I", capacity)

    def first_body(self, custom_id: str, body: str) -> bool:
        """Note ``custom_id`` with ``body`` (a hex digest); False when it was first seen with
        another body."""
        key = _key(custom_id)
        fingerprint = int(body[:8], 16) & _MASK32
        slot = self._slot(key)
        if self._keys[slot] == key:
            return self._values[slot] == fingerprint
        self._add(slot, key, fingerprint)
        return True


class KeyRows(_Slots):
    """Work key -> the rowid of its answer, for answers a run wrote to a journal with no key
    index. A 64-bit clash of two keys gives a wrong rowid: the caller checks the row's key."""

    __slots__ = ()

    def __init__(self, capacity: int = 1024) -> None:
        super().__init__("q", capacity)

    def get(self, key: str) -> int | None:
        """The rowid last put for ``key`` (or for a key with the same hash), or None."""
        slot = self._slot(_key(key))
        return self._values[slot] if self._keys[slot] != _EMPTY else None

    def put(self, key: str, rowid: int) -> None:
        """Note ``key``'s answer at ``rowid`` (a later put for the key wins)."""
        hashed = _key(key)
        slot = self._slot(hashed)
        if self._keys[slot] == hashed:
            self._values[slot] = rowid
        else:
            self._add(slot, hashed, rowid)
