"""What of a column's facts may be shown: rare values suppressed, identifiers masked.

A value seen fewer than ``policy.min_cell_count`` times appears nowhere: not in top values,
samples, min or max, and a pattern or histogram bucket counting fewer rows is withheld.
Aggregates (counts, lengths, mean, standard deviation, quartiles) stay.

A column is an identifier when its name says so (``SSN``, ``LastName``, ``DOB``, ``HomePhone``)
or when most of its values look like one (``999-99-9999``, ``(999) 999-9999``, e-mail). Its
values are masked: no top values, samples, min, max, mean or quartiles; its patterns, counts
and histogram buckets stay.
``PrivacyPolicy(show_identifiers=True, min_cell_count=0)`` shows everything, for internal use.
"""

from __future__ import annotations

import re

from workbench.profile.columns import ColumnFacts
from workbench.profile.infer import name_tokens
from workbench.profile.model import ColumnProfile, PrivacyPolicy, ValueCount

# Identifier kinds recognised from a column's name: its tokens joined ('FirstName' ->
# 'firstname'), matched in full, first rule first. A column whose name ends in 'id' or 'key'
# (AddressID) is a reference to another table, and only the 'mrn' rule applies to it.
_NUMBER = r"(no|num|number|nbr|id)"
NAME_RULES: tuple[tuple[str, str], ...] = (
    ("ssn", rf"ssn\w*|socsec{_NUMBER}?|socialsecurity{_NUMBER}?|\w*ssn"),
    (
        "mrn",
        rf"mrn|medicalrecord{_NUMBER}?|medrec{_NUMBER}?|chart{_NUMBER}|patient{_NUMBER}?|pt{_NUMBER}"
        rf"|emp{_NUMBER}|employee{_NUMBER}|member{_NUMBER}|subscriber{_NUMBER}",
    ),
    (
        "name",
        r"(first|last|middle|maiden|given|family|sur|full|nick|patient|pt|employee|emp|person"
        r"|member|mother|father|guardian)names?|first|last|middle|maiden|fname|lname|mname|mi"
        r"|middleinitial",
    ),
    ("dob", r"dob|dobdate|birthdate|birthdt|dateofbirth|birthday|bdate"),
    ("death_date", r"dod|deathdate|dateofdeath|deathdt"),
    ("email", r"e?mail|email\w*"),
    ("phone", r"\w*(phone|fax|mobile|cellular)\w*|tel|telephone|cell|cellno|cellnumber"),
    ("address", r"\w*address(line)?\d*|addr\d*|street\w*|birthplace"),
    ("zip", r"zip\d?|zipcode|postalcode|postcode|postal"),
    ("geo", r"lat|lon|lng|latitude|longitude"),
    ("license", rf"drivers?(license)?{_NUMBER}?|passport{_NUMBER}?"),
    ("credential", r"password|passwd|pwd"),
)
_NAME_RULES = tuple((kind, re.compile(rx)) for kind, rx in NAME_RULES)
_REFERENCE_TOKENS = ("id", "key", "uid", "guid")

# Identifier kinds recognised from values: the share of non-empty rows with that pattern.
VALUE_SHARE = 0.5
VALUE_KINDS = ("ssn", "phone", "email")


def identifier_kind(facts: ColumnFacts) -> str | None:
    """The kind of personal identifier a column holds, or None."""
    tokens = name_tokens(facts.name)
    joined = "".join(tokens)
    reference = len(tokens) > 1 and tokens[-1] in _REFERENCE_TOKENS
    for kind, rx in _NAME_RULES:
        if (kind == "mrn" or not reference) and rx.fullmatch(joined):
            return kind
    for kind in VALUE_KINDS:
        if facts.n_non_empty and facts.shape_rows.get(kind, 0) >= VALUE_SHARE * facts.n_non_empty:
            return kind
    return None


def column_profile(
    facts: ColumnFacts, inferred_type: str, policy: PrivacyPolicy, top_k: int
) -> ColumnProfile:
    """The shareable profile of a column: rare values and identifiers withheld."""
    kind = identifier_kind(facts)
    masked = kind is not None and not policy.show_identifiers
    floor = max(policy.min_cell_count, 0)

    def shown(value: tuple[str, int] | None) -> str | None:
        if masked or value is None or value[1] < floor:
            return None
        return value[0]

    # An identifier's quartiles are values of it (the median patient's phone number or
    # coordinates): a masked column keeps counts and patterns only.
    numeric = None if masked else facts.numeric
    return ColumnProfile(
        table=facts.table,
        name=facts.name,
        position=facts.position,
        declared_type=facts.declared_type,
        storage_type=facts.storage_type,
        inferred_type=inferred_type,
        n_rows=facts.n_rows,
        n_non_empty=facts.n_non_empty,
        n_null=facts.n_null,
        n_blank=facts.n_blank,
        sentinels=dict(facts.sentinels),
        n_distinct=facts.n_distinct,
        min_length=facts.min_length,
        max_length=facts.max_length,
        min=shown(facts.min),
        max=shown(facts.max),
        mean=_finite(numeric.mean) if numeric else None,
        std=_finite(numeric.std) if numeric else None,
        q25=_finite(numeric.q25) if numeric else None,
        median=_finite(numeric.median) if numeric else None,
        q75=_finite(numeric.q75) if numeric else None,
        date_formats=dict(facts.date_formats),
        top_values=[] if masked else _counted(facts.top_values[:top_k], floor),
        patterns=_counted(facts.patterns[:top_k], floor),
        histogram=_counted(_histogram(facts, inferred_type), floor),
        samples=[] if masked else list(facts.samples),
        identifier_kind=kind,
        masked=masked,
        suppressed_values=facts.n_rare if floor > 0 else 0,
    )


def _counted(pairs: list[tuple[str, int]], floor: int) -> list[ValueCount]:
    return [ValueCount(str(v), int(n)) for v, n in pairs if n >= floor]


def _histogram(facts: ColumnFacts, inferred_type: str) -> list[tuple[str, int]]:
    if inferred_type in ("date", "datetime"):
        return [(str(year), n) for year, n in facts.years]
    if inferred_type in ("integer", "decimal") and facts.numeric:
        return facts.numeric.histogram
    return []


def _finite(x: float | None) -> float | None:
    return x if x is not None and x == x and abs(x) != float("inf") else None
