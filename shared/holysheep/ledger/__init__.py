"""The cost ledger: every billed call recorded once, totals by any attribution, budgets enforced.

``CostLedger`` records calls (``settle``/``record``), refuses calls that could cross a budget
before anything is sent (``reserve`` raises ``BudgetExceededError``) and sums what was spent
(``totals``). Backends: ``memory`` (default), ``sqlite:///path.db`` (one machine, many processes),
``redis://host:port/db`` (many machines); chosen by argument or ``HOLYSHEEP_LEDGER``. A store
that fails raises ``LedgerError`` before a call; after one, the record is spooled to local disk
and replayed exactly once when the store answers again (``LedgerSpoolWarning``).

Example:
    ```python
    from holysheep.ledger import CostLedger

    with CostLedger("sqlite:///ledger.db") as ledger:
        ledger.set_budget("20", period="day")
        for row in ledger.totals(["model"]):
            print(row["model"], row.calls, row.total_usd, row.savings_cny)
    ```
"""

from ._backend import Facets, LedgerBackend
from ._estimate import estimate_call_usd
from ._ledger import LEDGER_ENV, CostLedger, open_backend, redact_url
from ._model import Budget, BudgetStatus, LedgerEntry, Period, Reservation, Scope, TotalsRow
from ._spool import LedgerSpoolWarning

__all__ = [
    "LEDGER_ENV",
    "Budget",
    "BudgetStatus",
    "CostLedger",
    "Facets",
    "LedgerBackend",
    "LedgerEntry",
    "LedgerSpoolWarning",
    "Period",
    "Reservation",
    "Scope",
    "TotalsRow",
    "estimate_call_usd",
    "open_backend",
    "redact_url",
]
