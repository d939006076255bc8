"""The workbench's own exceptions.

They are raised where the cause is known, with a message that names the file, table or
line and the cause, and turned into one-line messages only at the edge (CLI, notebooks).
"""


class WorkbenchError(Exception):
    """Base of every error the workbench reports to a user."""


class ConfigError(WorkbenchError):
    """The workspace configuration is missing or wrong."""


class SecretError(WorkbenchError):
    """A sealed secret reference is malformed or its value is not set."""


class SourceError(WorkbenchError):
    """A source cannot be read: bad file, unsupported format, unreachable database."""


class SourceUnreachable(SourceError):
    """A source cannot be reached at all (missing file, refused connection)."""


class SnapshotError(WorkbenchError):
    """A snapshot cannot be taken, found or trusted."""


class SynthError(WorkbenchError):
    """The synthetic clinic cannot be generated with the given parameters."""


class ProfileError(WorkbenchError):
    """A snapshot cannot be profiled, or a profile cannot be read or compared."""


class TargetError(WorkbenchError):
    """A target model is malformed, or a target database does not match it."""


class MappingError(WorkbenchError):
    """A mapping template is malformed, cannot be compiled, or cannot be trusted."""


class CrosswalkError(WorkbenchError):
    """A crosswalk file is malformed or cannot be found."""


class PermissionDenied(WorkbenchError):
    """The current user's role does not allow the action."""


class AuditError(WorkbenchError):
    """The audit log cannot be written, or it fails verification."""
