"""The checklist stage's error: a definition, a run or an acknowledgement that is wrong."""

from workbench.errors import WorkbenchError


class ChecklistError(WorkbenchError):
    """A checklist is malformed or missing, or a run or acknowledgement cannot proceed."""
