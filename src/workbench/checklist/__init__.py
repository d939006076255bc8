"""Checklists: timed dress rehearsals and the go-live, run step by step into a ledger.

Kept light on purpose: notebooks import ``workbench.checklist.record`` in every run, so
nothing here imports papermill or nbconvert (``runner`` and the step modules do, lazily).
"""

from workbench.checklist.errors import ChecklistError
from workbench.checklist.record import record

__all__ = ["ChecklistError", "record"]
