"""Quality gates: thresholds in the template that a job must meet before it may commit.

Each gate is a ratio over the whole source, computed from the projection:

- completeness: target rows whose required fields are present (not parked on ``required:``);
- validity: values that parse, and codes inside their value sets;
- referential integrity: child rows whose parent is loaded (not parked on ``references:``);
- code coverage: rows whose local code translates through a crosswalk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl

from workbench.mapping.projection import Projection

GATES = ("completeness", "validity", "referential_integrity", "code_coverage")
DEFAULTS = {
    "completeness": 0.99,
    "validity": 0.95,
    "referential_integrity": 0.99,
    "code_coverage": 0.0,
}


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed_count: int
    total: int
    threshold: float

    @property
    def ratio(self) -> float:
        return 1.0 if self.total == 0 else self.passed_count / self.total

    @property
    def passed(self) -> bool:
        return self.ratio >= self.threshold

    def to_dict(self) -> dict:
        return asdict(self) | {"ratio": round(self.ratio, 6), "passed": self.passed}


def evaluate(projection: Projection) -> list[GateResult]:
    thresholds = DEFAULTS | projection.compiled.template.gates
    fates = projection.fates()
    considered = _considered(fates)
    checks = projection.field_checks()
    parse = checks.filter(pl.col("kind") == "parse") if len(checks) else checks
    translate = checks.filter(pl.col("kind") == "translate") if len(checks) else checks
    failed_required = _parked_on(fates, "required:")
    failed_refs = _parked_on(fates, "references:")
    failed_values = _parked_on(fates, "value_set:")
    parse_total = _sum(parse, "with_value")
    return [
        GateResult(
            "completeness", considered - failed_required, considered, thresholds["completeness"]
        ),
        GateResult(
            "validity",
            parse_total - _sum(parse, "failed") + considered - failed_values,
            parse_total + considered,
            thresholds["validity"],
        ),
        GateResult(
            "referential_integrity",
            considered - failed_refs,
            considered,
            thresholds["referential_integrity"],
        ),
        GateResult(
            "code_coverage",
            _sum(translate, "with_value") - _sum(translate, "failed"),
            _sum(translate, "with_value"),
            thresholds["code_coverage"],
        ),
    ]


def _considered(fates: pl.DataFrame) -> int:
    return int(fates.filter(pl.col("fate") != "excluded")["rows"].sum())


def _parked_on(fates: pl.DataFrame, prefix: str) -> int:
    rows = fates.filter((pl.col("fate") == "parked") & pl.col("rule").str.starts_with(prefix))
    return int(rows["rows"].sum())


def _sum(frame: pl.DataFrame, column: str) -> int:
    return int(frame[column].sum()) if len(frame) else 0


def failing(results: list[GateResult]) -> list[GateResult]:
    return [g for g in results if not g.passed]


def describe(g: GateResult) -> str:
    mark = "pass" if g.passed else "FAIL"
    return (
        f"{g.gate}: {g.ratio:.2%} ({g.passed_count:,} of {g.total:,}), "
        f"threshold {g.threshold:.0%}: {mark}"
    )
