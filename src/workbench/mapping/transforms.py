"""The transform library: DuckDB macros every template expression may call.

They are macros, not Python functions, so a template compiles to plain set-based SQL that
runs over whole tables; `workbench map sql` prints them with the rest of the script.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transform:
    name: str
    params: str
    body: str
    doc: str
    parses: bool = False  # a NULL result from a non-empty input is a failed parse

    def sql(self) -> str:
        return f"CREATE OR REPLACE TEMP MACRO {self.name}({self.params}) AS {self.body};"


_SENTINELS = "'', 'NULL', 'N/A', 'NA', 'null', 'n/a', '0000-00-00', '00/00/0000'"
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%d-%b-%y", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y")


def _parse_date_body() -> str:
    # One strptime over a list of formats: the first that reads the text wins.
    formats = ", ".join(f"'{f}'" for f in _DATE_FORMATS)
    return f"CAST(try_strptime(null_sentinel(x), [{formats}]) AS DATE)"


TRANSFORMS: tuple[Transform, ...] = (
    Transform(
        "null_sentinel",
        "x",
        f"CASE WHEN trim(CAST(x AS VARCHAR)) IN ({_SENTINELS}) THEN NULL "
        "ELSE trim(CAST(x AS VARCHAR)) END",
        "trims; NULL for '', 'NULL', 'N/A', 'NA', '0000-00-00', '00/00/0000'",
    ),
    Transform(
        "trim_text",
        "x",
        "nullif(trim(CAST(x AS VARCHAR)), '')",
        "trims; NULL when empty",
    ),
    Transform(
        "parse_date",
        "x",
        _parse_date_body(),
        "a DATE from ISO, MM/DD/YYYY, YYYYMMDD, DD-Mon-YY, DD-Mon-YYYY or an ISO timestamp; "
        "NULL for sentinels and unreadable text",
        parses=True,
    ),
    Transform(
        "parse_past_date",
        "x",
        "CASE WHEN parse_date(x) > current_date "
        "THEN CAST(parse_date(x) - INTERVAL 100 YEAR AS DATE) ELSE parse_date(x) END",
        "as parse_date, but a two-digit year is never in the future (birth dates)",
        parses=True,
    ),
    Transform(
        "parse_number",
        "x",
        "try_cast(replace(replace(null_sentinel(x), ',', ''), ' ', '') AS DOUBLE)",
        "a DOUBLE from text (commas and spaces removed); NULL if unreadable",
        parses=True,
    ),
    Transform(
        "digits",
        "x",
        "nullif(regexp_replace(CAST(x AS VARCHAR), '[^0-9]', '', 'g'), '')",
        "only the digits of x; NULL if there are none",
    ),
    Transform(
        "title_word",
        "w",
        "upper(left(w, 1)) || lower(substr(w, 2))",
        "one word in title case (used by normalize_name)",
    ),
    Transform(
        "normalize_name",
        "x",
        "CASE WHEN null_sentinel(x) IS NULL THEN NULL "
        "WHEN regexp_replace(trim(x), '\\s+', ' ', 'g') IN "
        "(upper(regexp_replace(trim(x), '\\s+', ' ', 'g')), "
        "lower(regexp_replace(trim(x), '\\s+', ' ', 'g'))) "
        "THEN array_to_string(list_transform("
        "string_split(regexp_replace(trim(x), '\\s+', ' ', 'g'), ' '), "
        "lambda w: array_to_string(list_transform(string_split(w, '-'), "
        "lambda p: title_word(p)), '-')), ' ') "
        "ELSE regexp_replace(trim(x), '\\s+', ' ', 'g') END",
        "trims, collapses spaces, title-cases ALL-CAPS or all-lower names (keeps mixed case)",
    ),
    Transform(
        "normalize_phone",
        "x",
        "CASE WHEN length(digits(x)) = 11 AND left(digits(x), 1) = '1' "
        "THEN '(' || substr(digits(x), 2, 3) || ') ' || substr(digits(x), 5, 3) || '-' "
        "|| substr(digits(x), 8, 4) "
        "WHEN length(digits(x)) = 10 "
        "THEN '(' || substr(digits(x), 1, 3) || ') ' || substr(digits(x), 4, 3) || '-' "
        "|| substr(digits(x), 7, 4) END",
        "(555) 123-4567 from 10 digits, or 11 starting with 1; NULL otherwise",
        parses=True,
    ),
    Transform(
        "map_value",
        "x, pairs",
        # Plain string search, not a map built per row: ';KEY=' only matches a whole key.
        "nullif(split_part(split_part(';' || pairs || ';', "
        "';' || upper(null_sentinel(x)) || '=', 2), ';', 1), '')",
        "a small inline value map, 'A=active;T=terminated' (keys upper-case, no spaces "
        "around = or ;); NULL if absent",
        parses=True,
    ),
    Transform(
        "yes_no",
        "x",
        "CASE WHEN upper(null_sentinel(x)) IN ('Y', 'YES', '1', 'T', 'TRUE') THEN TRUE "
        "WHEN upper(null_sentinel(x)) IN ('N', 'NO', '0', 'F', 'FALSE') THEN FALSE END",
        "TRUE for Y/YES/1/T/TRUE, FALSE for N/NO/0/F/FALSE, else NULL",
        parses=True,
    ),
    Transform(
        "xw",
        "name, code",
        "(SELECT any_value(target_code) FROM _xw "
        "WHERE crosswalk = name AND source_code = trim(CAST(code AS VARCHAR)) "
        "AND status = 'approved')",
        "the approved target code of code in the named crosswalk; NULL if none",
        parses=True,
    ),
    Transform(
        "xw_display",
        "name, code",
        "(SELECT any_value(target_display) FROM _xw "
        "WHERE crosswalk = name AND source_code = trim(CAST(code AS VARCHAR)) "
        "AND status = 'approved')",
        "the display of the approved target code",
    ),
    Transform(
        "xw_system",
        "name, code",
        "(SELECT any_value(target_system) FROM _xw "
        "WHERE crosswalk = name AND source_code = trim(CAST(code AS VARCHAR)) "
        "AND status = 'approved')",
        "the code system of the approved target code",
    ),
    Transform(
        "html_escape",
        "x",
        "replace(replace(replace(replace(CAST(x AS VARCHAR), '&', '&amp;'), '<', '&lt;'), "
        "'>', '&gt;'), '\"', '&quot;')",
        "escapes text for HTML (summary documents)",
    ),
    Transform(
        "md_escape",
        "x",
        "replace(replace(replace(CAST(x AS VARCHAR), '|', '\\|'), chr(13), ''), chr(10), ' ')",
        "escapes text for a Markdown table cell (summary documents)",
    ),
)

BY_NAME = {t.name: t for t in TRANSFORMS}
PARSING = frozenset(t.name for t in TRANSFORMS if t.parses)
TRANSLATING = frozenset({"xw"})


def macro_script() -> str:
    return "\n".join(t.sql() for t in TRANSFORMS)


def install(con) -> None:
    """Create every transform as a temporary macro on a DuckDB connection."""
    for t in TRANSFORMS:
        con.execute(t.sql())


EMPTY_CROSSWALKS = (
    "CREATE OR REPLACE TEMP TABLE _xw (crosswalk VARCHAR, source_system VARCHAR, "
    "source_code VARCHAR, source_display VARCHAR, target_system VARCHAR, "
    "target_code VARCHAR, target_display VARCHAR, status VARCHAR);"
)


def empty_crosswalks(con) -> None:
    """An empty ``_xw`` so the macros resolve when a template uses no crosswalk."""
    con.execute(EMPTY_CROSSWALKS)
