"""The job API, with the names of the CLI's commands (``workbench job NAME``)."""

from workbench.jobs.commit import commit, pause, resume
from workbench.jobs.job import get as show
from workbench.jobs.job import list_all as list_jobs
from workbench.jobs.lifecycle import create, dry_run, validate
from workbench.jobs.parking import parked, waive
from workbench.jobs.reconciling import reconcile
from workbench.jobs.resolve import resolve
from workbench.jobs.rollback import rollback

__all__ = [
    "commit",
    "create",
    "dry_run",
    "list_jobs",
    "parked",
    "pause",
    "reconcile",
    "resolve",
    "resume",
    "rollback",
    "show",
    "validate",
    "waive",
]
