"""Altair charts as inline SVG, rendered offline by vl-convert.

Reports are opened on closed hospital networks, so a chart is drawn here, once, into SVG
markup that the HTML page carries inline: no vega runtime, no CDN, no data URLs fetched.
The same chart always gives the same bytes, and many charts can share one page: the ids
Vega writes into each SVG (clip paths, gradients) are made unique per chart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import altair as alt
import vl_convert as vlc

# vl-convert bundles several Vega-Lite versions; use the one Altair writes specs for.
VL_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])

# One palette for every report, so a colour means the same thing on every page.
COLOURS = {
    "bar": "#4c78a8",
    "filled": "#c9d6e3",
    "null": "#e45756",
    "blank": "#f58518",
    "sentinel": "#b279a2",
    "good": "#54a24b",
    "warn": "#eeca3b",
    "bad": "#e45756",
}

FONT = "Helvetica, Arial, sans-serif"

# Static SVG carries no interactivity, so aria labels and grid lines only add bytes.
THEME: dict[str, Any] = {
    "aria": False,
    "font": FONT,
    "background": "white",
    "view": {"stroke": None},
    "axis": {
        "labelFontSize": 11,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
        "labelLimit": 180,
        "grid": False,
        "domainColor": "#888",
        "tickColor": "#888",
    },
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "top"},
    "bar": {"color": COLOURS["bar"]},
    "title": {"fontSize": 12, "anchor": "start", "fontWeight": "normal"},
}

# Altair names unnamed views and parameters from a process-wide counter (5.x) or a hash
# (6.x); either way, number them in order of appearance so the spec depends on content only.
_COUNTER_NAME = re.compile(r"\b((?:view|param)_)[0-9a-f]+(?:_\d+)?\b")
_DATA_KEYS = {"data", "datasets"}
_ID = re.compile(r'\bid="([^"]+)"')
_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SLOT = re.compile(r"<!--chart:(\d+)-->")


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG element, ready to inline in an HTML page."""
    return _render(spec_json(chart))


def to_svgs(charts: Iterable[alt.TopLevelMixin]) -> list[str]:
    """Many charts at once, in order; vl-convert renders them in parallel threads."""
    specs = [spec_json(c) for c in charts]
    if len(specs) < 2:
        return [_render(s) for s in specs]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(_render, specs))


def spec_json(chart: alt.TopLevelMixin) -> str:
    """The chart's Vega-Lite spec with the report theme, identical for identical charts."""
    spec = _renumbered(chart.to_dict())
    spec["config"] = _merged(THEME, spec.get("config", {}))
    return json.dumps(spec, sort_keys=True, ensure_ascii=False)


def _render(spec: str) -> str:
    svg = vlc.vegalite_to_svg(spec, vl_version=VL_VERSION, allowed_base_urls=[])
    return _embeddable(svg)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _renumbered(spec: dict[str, Any]) -> dict[str, Any]:
    """Generated view and parameter names replaced by their order of appearance.

    Only names the spec itself declares (``name`` of a view or parameter) are touched, and
    never inside data, so a value that happens to look like ``view_1`` stays as it is.
    """
    generated: dict[str, str] = {}
    per_kind: dict[str, int] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("name")
            m = _COUNTER_NAME.fullmatch(name) if isinstance(name, str) else None
            if m and name not in generated:
                per_kind[m.group(1)] = per_kind.get(m.group(1), 0) + 1
                generated[name] = f"{m.group(1)}{per_kind[m.group(1)]}"
            for k, v in node.items():
                if k not in _DATA_KEYS:
                    collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: v if k in _DATA_KEYS else rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        if isinstance(node, str):
            return _COUNTER_NAME.sub(lambda m: generated.get(m.group(0), m.group(0)), node)
        return node

    collect(spec)
    return rename(spec) if generated else spec


def _embeddable(svg: str) -> str:
    """Ids prefixed by a hash of the chart, so two charts on a page never share an id.

    The namespace declarations go too: an HTML parser places an inline <svg> in the SVG
    namespace by itself, and the page then holds no http URL at all.
    """
    prefix = "c" + hashlib.sha256(svg.encode()).hexdigest()[:10] + "-"
    for old in sorted(set(_ID.findall(svg)), key=len, reverse=True):
        new = prefix + old
        svg = (
            svg.replace(f'id="{old}"', f'id="{new}"')
            .replace(f"url(#{old})", f"url(#{new})")
            .replace(f'href="#{old}"', f'href="#{new}"')
        )
    head, sep, rest = svg.partition(">")
    return _XMLNS.sub("", head) + sep + rest


class ChartSlots:
    """Charts collected while a page is built, then rendered together and put in place.

    ``add`` returns a placeholder that escaped text can never produce (it starts with a
    raw ``<``), and ``fill`` swaps every placeholder for its SVG.
    """

    def __init__(self) -> None:
        self._charts: list[alt.TopLevelMixin] = []

    def __len__(self) -> int:
        return len(self._charts)

    def add(self, chart: alt.TopLevelMixin) -> str:
        self._charts.append(chart)
        return f"<!--chart:{len(self._charts) - 1}-->"

    def fill(self, html: str) -> str:
        svgs = to_svgs(self._charts)
        return _SLOT.sub(lambda m: svgs[int(m.group(1))], html)
