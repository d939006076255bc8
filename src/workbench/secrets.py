"""Sealed secrets: the workspace config holds a reference such as ``env:NAME``, never a value.

The value is resolved only at the moment a connection is made, and no repr, str, log line or
error message of this module contains it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.errors import SecretError

_SCHEMES = ("env",)


@dataclass(frozen=True)
class SealedSecret:
    """A reference to a secret. ``reveal()`` is the only way to the value."""

    reference: str

    @classmethod
    def parse(cls, reference: str, where: str) -> SealedSecret:
        scheme, _, name = reference.partition(":")
        if scheme not in _SCHEMES or not name:
            raise SecretError(
                f"{where}: a secret must be a reference like 'env:NAME', not a literal value"
            )
        return cls(reference)

    @property
    def name(self) -> str:
        return self.reference.partition(":")[2]

    @property
    def is_set(self) -> bool:
        return os.environ.get(self.name) is not None

    def reveal(self) -> str:
        value = os.environ.get(self.name)
        if value is None:
            raise SecretError(f"secret {self.reference} is not set in the environment")
        return value

    def __repr__(self) -> str:
        return f"SealedSecret({self.reference!r}, {'set' if self.is_set else 'not set'})"

    __str__ = __repr__
