"""The target model: the new EHR's tables as a contract (``targets/NAME.yaml``) and the
DDL that creates them in a target database."""

from workbench.target.model import (
    TargetColumn,
    TargetModel,
    TargetTable,
    ValueSet,
    find_model,
    load_model,
)

__all__ = [
    "TargetColumn",
    "TargetModel",
    "TargetTable",
    "ValueSet",
    "find_model",
    "load_model",
]
