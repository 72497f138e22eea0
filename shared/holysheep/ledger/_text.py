"""Text every store can hold: a lone surrogate (``"\\ud800"``, not valid Unicode) becomes U+FFFD.

SQLite and Redis take UTF-8 only, and a lone surrogate has no UTF-8 form, so a user, app, task,
model or call id holding one would make the store refuse the billed call's record. The ledger
façade passes every such name through ``clean`` before anything is stored or matched (entries,
reservations, budget keys, query filters), for every backend alike: the same call is recorded
and budgeted the same way in memory, SQLite and Redis. Names that differ only in their lone
surrogates become the same name (so the same budget): a budget can then only count more, never
less. Tags keep their exact text (they are stored as escaped JSON, which holds anything).
"""

from __future__ import annotations

import dataclasses
import re

from holysheep.calls import Attribution

from ._model import LedgerEntry

__all__ = ["clean", "clean_attribution", "clean_entry"]

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
"""What each lone surrogate becomes: Unicode's replacement character, as lenient decoders do."""


def clean(text: str | None) -> str | None:
    """``text`` with each lone surrogate replaced by U+FFFD (ASCII text: returned as is, O(1))."""
    if text is None or text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def clean_attribution(att: Attribution) -> Attribution:
    """``att`` with user, app and task cleaned (the same object when nothing changes)."""
    user, app, task = att.user, att.app, att.task
    if (user is None or user.isascii()) and (app is None or app.isascii()) and (
        task is None or task.isascii()
    ):
        return att
    user, app, task = clean(user), clean(app), clean(task)
    if (user, app, task) == (att.user, att.app, att.task):
        return att
    return dataclasses.replace(att, user=user, app=app, task=task)


def clean_entry(entry: LedgerEntry) -> LedgerEntry:
    """``entry`` with its names, ids and dedup key cleaned (the same object when nothing
    changes; the key is made of the ids, so it changes with them)."""
    fields = (entry.key, entry.id, entry.request_id, entry.model, entry.requested_model,
              entry.task, entry.user, entry.app)
    for value in fields:
        if value is not None and not value.isascii():
            break
    else:
        return entry
    cleaned = [clean(value) for value in fields]
    if cleaned == list(fields):
        return entry
    key, call_id, request_id, model, requested, task, user, app = cleaned
    return dataclasses.replace(entry, key=key, id=call_id, request_id=request_id, model=model,
                               requested_model=requested, task=task, user=user, app=app)
