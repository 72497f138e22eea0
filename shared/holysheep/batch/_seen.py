"""The custom_ids one input has used, with a fingerprint of each one's body, in ~24 bytes each.

A run refuses a ``custom_id`` that an earlier line of the same input used for another body. A
dict of the ids themselves cost ~150 bytes a line (150 MB for a million lines); this table keeps
a 64-bit hash of each id and a 32-bit fingerprint of its body in two flat arrays (open
addressing, linear probing, load 1/3 to 2/3): 18-36 bytes a line, 25 MB for a million lines.
"""

from __future__ import annotations

from array import array

__all__ = ["SeenIds"]

_EMPTY = 0
_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


class SeenIds:
    """custom_id -> body fingerprint of its first use; ``first_body`` is the one operation.

    Two ids with the same 64-bit hash and different bodies would be taken for one reused id
    (about one chance in 10^7 for a million-line input); a body fingerprint clash can only
    miss a refusal, never make one."""

    __slots__ = ("_bodies", "_count", "_ids", "_mask")

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(4, (capacity - 1).bit_length())
        self._ids = array("Q", [_EMPTY]) * size
        self._bodies = array("I", [0]) * size
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def first_body(self, custom_id: str, body: str) -> bool:
        """Note ``custom_id`` with ``body`` (a hex digest); False when it was first seen with
        another body."""
        key = (hash(custom_id) & _MASK64) or 1  # 0 marks an empty slot
        fingerprint = int(body[:8], 16) & _MASK32
        ids, mask = self._ids, self._mask
        slot = key & mask
        while True:
            found = ids[slot]
            if found == key:
                return self._bodies[slot] == fingerprint
            if found == _EMPTY:
                break
            slot = (slot + 1) & mask
        ids[slot] = key
        self._bodies[slot] = fingerprint
        self._count += 1
        if 3 * self._count > 2 * (mask + 1):  # keep the load under 2/3: short probes
            self._grow()
        return True

    def _grow(self) -> None:
        """Double the table and place every entry again."""
        old_ids, old_bodies = self._ids, self._bodies
        size = 2 * len(old_ids)
        ids = array("Q", [_EMPTY]) * size
        bodies = array("I", [0]) * size
        mask = size - 1
        for key, fingerprint in zip(old_ids, old_bodies, strict=True):
            if key == _EMPTY:
                continue
            slot = key & mask
            while ids[slot] != _EMPTY:
                slot = (slot + 1) & mask
            ids[slot] = key
            bodies[slot] = fingerprint
        self._ids, self._bodies, self._mask = ids, bodies, mask
