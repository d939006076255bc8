"""The offline HTML data migration map: self-contained, deterministic, PHI-safe, and drawn
with its charts by a real headless Chromium that has no network."""

from __future__ import annotations

import json
import re
import struct
import threading
import zlib
from collections import Counter
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import require_tool
from workbench import workspace
from workbench.profile import map_html
from workbench.profile.engine import profile_snapshot
from workbench.profile.model import (
    ColumnProfile,
    PrivacyPolicy,
    Profile,
    Relationship,
    TableProfile,
    ValueCount,
)
from workbench.render import browser, charts, page
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import from_config
from workbench.synth import generate

# In the "source", seen twice: below min_cell_count, so the profiler withheld it.
RARE_VALUE = "Quixotic Zebrafish Syndrome"
MASKED_SURNAME = "Featherstonehaugh"


def _column(table: str, name: str, position: int, **kw) -> ColumnProfile:
    base = dict(
        table=table, name=name, position=position, declared_type="varchar(40)",
        storage_type="VARCHAR", inferred_type="code", n_rows=1000, n_non_empty=900, n_null=50,
        n_blank=30, sentinels={"N/A": 20}, n_distinct=12,
    )  # fmt: skip
    return ColumnProfile(**{**base, **kw})


def clinic_profile(**policy) -> Profile:
    """A small clinic as the profiler would hand it over: rare and identifying values gone."""
    patients = TableProfile(
        "patients",
        1000,
        [
            _column(
                "patients", "patient_id", 1, inferred_type="integer", declared_type="int",
                storage_type="BIGINT", n_non_empty=1000, n_null=0, n_blank=0, sentinels={},
                n_distinct=1000, min="1", max="1000", mean=500.5, std=288.8, q25=250.75,
                median=500.5, q75=750.25,
                histogram=[ValueCount(f"{i * 100 + 1}–{(i + 1) * 100}", 100) for i in range(10)],
            ),
            _column(
                "patients", "last_name", 2, inferred_type="free_text", identifier_kind="name",
                masked=True, n_distinct=700,
                patterns=[ValueCount("Aaaaa", 400), ValueCount("Aaaaaaa", 300)],
            ),
            _column(
                "patients", "sex", 3, n_distinct=4, suppressed_values=1, samples=["F", "M"],
                top_values=[ValueCount("F", 480), ValueCount("M", 410), ValueCount("U", 8)],
            ),
            _column(
                "patients", "birth_date", 4, inferred_type="date", identifier_kind="dob",
                masked=True, date_formats={"YYYY-MM-DD": 850, "MM/DD/YYYY": 50},
            ),
            _column(
                "patients", "fax", 5, inferred_type="empty", n_non_empty=0, n_null=1000,
                n_blank=0, sentinels={}, n_distinct=0,
            ),
        ],
        candidate_keys=[["patient_id"]],
        description="People seen at the clinic",
    )  # fmt: skip
    visits = TableProfile(
        "visits",
        5000,
        [
            _column(
                "visits", "visit_id", 1, inferred_type="integer", n_rows=5000, n_non_empty=5000,
                n_null=0, n_blank=0, sentinels={}, n_distinct=5000,
            ),
            _column(
                "visits", "patient_id", 2, inferred_type="integer", n_rows=5000,
                n_non_empty=4990, n_null=10, n_blank=0, sentinels={}, n_distinct=990,
            ),
            _column(
                "visits", "visit_date", 3, inferred_type="date", n_rows=5000, n_non_empty=4900,
                n_null=0, n_blank=50, sentinels={"0000-00-00": 50}, n_distinct=1500,
                min="2015-01-02", max="2024-12-30",
                date_formats={"YYYY-MM-DD": 4000, "DD.MM.YYYY": 900},
                histogram=[ValueCount(str(y), 480 + y % 7) for y in range(2015, 2025)],
            ),
            _column(
                "visits", "reason", 4, n_rows=5000, n_non_empty=5000, n_null=0, n_blank=0,
                sentinels={}, suppressed_values=3,
                top_values=[ValueCount(f"Reason <{i}> & 'co'", 500 - i * 30) for i in range(12)],
                patterns=[ValueCount("A99", 3000), ValueCount("AAA", 2000)],
            ),
        ],
        candidate_keys=[["visit_id"], ["patient_id", "visit_date"]],
    )  # fmt: skip
    return Profile(
        "clinic-2024",
        "sha256:" + "ab" * 32,
        "0.1.0",
        PrivacyPolicy(**policy),
        [patients, visits],
        [Relationship("visits", "patient_id", "patients", "patient_id", 0.98, 4990, 30, 20, 0)],
    )


# Charts per page: 2 null-rate, 1 coverage, 2 top values, 2 histograms.
CHARTS = 7


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    return map_html.write(clinic_profile(), tmp_path_factory.mktemp("map"))


@pytest.fixture(scope="module")
def html(written: Path) -> str:
    return written.read_text(encoding="utf-8")


class References(HTMLParser):
    """Every place in a document that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []  # src of each <script>, None when inline
        self.links: list[str] = []
        self.sources: list[str] = []  # src/href/data/poster of other elements
        self.css: list[str] = []  # <style> text and style="" attributes
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
        elif tag == "link":
            self.links.append(a.get("href") or "")
        elif tag == "style":
            self._in_style = True
        for name in ("src", "data", "poster", "srcset", "xlink:href", "action"):
            if a.get(name):
                self.sources.append(a[name])
        if tag not in ("a", "link") and a.get("href"):
            self.sources.append(a["href"])
        if a.get("style"):
            self.css.append(a["style"])

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)


def test_written_into_a_directory_under_the_maps_name(tmp_path):
    assert map_html.write(clinic_profile(), tmp_path).name == "data-migration-map.html"
    written = map_html.write(clinic_profile(), tmp_path / "reports" / "rehearsal")
    assert written == tmp_path / "reports" / "rehearsal" / "data-migration-map.html"
    assert map_html.write(clinic_profile(), tmp_path / "map.html") == tmp_path / "map.html"


def test_the_page_references_nothing_outside_itself(html):
    refs = References()
    refs.feed(html)
    assert refs.scripts == []  # no scripts at all, so none from a CDN
    assert refs.links == []  # no external stylesheets, fonts or icons
    assert all(s.startswith("#") for s in refs.sources), refs.sources
    css = "\n".join(refs.css)
    assert "@import" not in css
    for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", css + html):
        assert target.startswith("#"), target  # only references within the page (clip paths)
    # And, with namespaces stripped from the SVGs, no URL of any kind is left.
    assert "http://" not in html and "https://" not in html


def test_every_chart_is_inline_svg_with_ids_unique_on_the_page(html):
    assert html.count("<svg") == CHARTS
    assert "<!--chart:" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r"url\(#([^)]+)\)", html):
        assert ref in ids


def test_the_same_profile_gives_the_same_bytes():
    assert map_html.render(clinic_profile()) == map_html.render(clinic_profile())


def test_header_toc_and_sections(html):
    for text in ("clinic-2024", "sha256:" + "ab" * 32, "5: a value seen fewer times"):
        assert text in html
    assert "masked (2 columns recognised" in html
    for anchor in ("summary", "tables", "relationships", "table-patients", "table-visits"):
        assert f'id="{anchor}"' in html
        assert f'href="#{anchor}"' in html
    assert 'id="col-visits-visit_date"' in html
    assert "98.0 %" in html  # the relationship's coverage
    assert "DD.MM.YYYY" in html and "<code>A99</code>" in html  # date formats, patterns


def test_values_are_escaped_and_masked_columns_say_so(html):
    assert "Reason <0>" not in html  # escaped in SVG text as in tables
    assert "Reason &lt;0&gt; &amp; 'co'" in html
    assert "Values masked" in html
    assert "identifier: name" in html and "identifier: dob" in html
    assert "3 distinct values seen fewer than 5 times are not shown" in html


def test_identifiers_shown_only_when_the_policy_says_so():
    shown = map_html.render(clinic_profile(show_identifiers=True))
    assert "shown unmasked (internal use only)" in shown


def test_no_value_absent_from_the_profile_appears(html):
    """The renderer adds nothing: a rare value the profiler withheld stays out of the page,
    and so does anything from a masked column."""
    assert RARE_VALUE not in html
    assert MASKED_SURNAME not in html
    profile = clinic_profile()
    profile.table("patients").column("last_name").top_values = [ValueCount(MASKED_SURNAME, 9)]
    profile.table("patients").column("last_name").samples = [MASKED_SURNAME]
    # Even if a masked column carried values by mistake, the page would not show them.
    assert MASKED_SURNAME not in map_html.render(profile)


def test_numbers_read_as_people_expect():
    assert page.fmt_int(1234567) == "1,234,567"
    assert page.fmt_pct(0.98) == "98.0 %"
    assert page.fmt_pct(0.0001) == "< 0.1 %"  # never a rounded 0 for something there
    assert page.fmt_pct(0.99996) == "> 99.9 %"
    assert page.fmt_num(500.5) == "500.5" and page.fmt_num(2.0) == "2"


def test_charts_are_deterministic_and_self_contained():
    import altair as alt

    chart = alt.Chart(alt.Data(values=[{"a": "x", "b": 1}])).mark_bar().encode(x="b:Q", y="a:N")
    svg = charts.to_svg(chart)
    assert svg.startswith("<svg") and "http" not in svg
    assert charts.to_svgs([chart, chart]) == [svg, svg]


# In a real browser, cut off from the network.


def test_renders_its_charts_in_headless_chromium_offline(written, tmp_path):
    require_tool("chromium")
    dom = browser.dump_dom(written)
    assert dom.count("<svg") == CHARTS
    assert "Data migration map: clinic-2024" in dom
    png = browser.screenshot(written, tmp_path / "map.png", width=1280, height=1024)
    width, height, pixels = _png_colours(png)
    assert (width, height) == (1280, 1024)
    assert len(pixels) > 50, "the screenshot is blank"
    # The relationship's coverage bar is above the fold: chart colours made it to the screen.
    assert pixels[_rgb(charts.COLOURS["warn"])] > 1000


def test_the_browser_gets_no_network(tmp_path):
    require_tool("chromium")
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        page = tmp_path / "fetches.html"
        page.write_text(
            f'<link rel="stylesheet" href="{url}/style.css"><img src="{url}/pixel.png">'
            f'<img src="http://example.com/pixel.png"><p>offline</p>'
        )
        assert "offline" in browser.dump_dom(page)
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_prints_to_pdf(written, tmp_path):
    require_tool("chromium")
    pdf = browser.print_pdf(written, tmp_path / "map.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


# A real profile: the synthetic clinic, acquired and profiled by the engine.


def test_the_synthetic_clinics_map_renders_and_leaks_no_rare_value(tmp_path):
    require_tool("chromium")
    ws = workspace.init(tmp_path / "ws")
    generate(style="ohm", people=1000, seed=11, fmt="csv", out=tmp_path / "data")
    source = from_config("clinic", {"kind": "csv", "path": str(tmp_path / "data")}, ws)
    acquire(source, ws.snapshots_dir, "rehearsal")
    snapshot = open_snapshot(ws.snapshots_dir, "rehearsal")
    profile = profile_snapshot(snapshot, PrivacyPolicy())

    path = map_html.write(profile, tmp_path / "reports")
    html = path.read_text(encoding="utf-8")
    assert len(profile.tables) == 13
    assert path.stat().st_size < 3_000_000
    for t in profile.tables:
        assert f">Table {t.name}</h2>" in html
    refs = References()
    refs.feed(html)
    assert refs.scripts == [] and refs.links == []
    assert "http://" not in html and "https://" not in html

    # Values seen fewer than min_cell_count times in the snapshot, and so not in the
    # profile, are not on the page either (plain text only, so escaping cannot hide one).
    shared = json.dumps(profile.to_dict(), ensure_ascii=False)
    rare = [v for v in _rare_values(snapshot, profile.policy.min_cell_count) if v not in shared]
    assert len(rare) > 50
    assert [v for v in rare if v in html] == []

    dom = browser.dump_dom(path)
    assert dom.count("<svg") == html.count("<svg") > len(profile.tables)


def _rare_values(snapshot, below: int) -> list[str]:
    with snapshot.connect() as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY ALL"
        ).fetchall()
        found = []
        for table, column in columns:
            found += [
                v
                for (v,) in con.execute(
                    f'SELECT CAST("{column}" AS VARCHAR) AS v FROM "{table}" WHERE v IS NOT NULL '
                    f"GROUP BY v HAVING count(*) < {below} AND length(trim(v)) >= 6 "
                    "ORDER BY v LIMIT 10"
                ).fetchall()
                if re.fullmatch(r"[A-Za-z0-9 .,:/-]+", v)
            ]
    return found


# A PNG decoder small enough to read here, so the test needs no imaging library.


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _png_colours(path: Path) -> tuple[int, int, Counter]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    previous = bytearray(stride)
    colours: Counter = Counter()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, bpp)
        colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
        previous = line
    return width, height, colours


def _unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    n = len(line)
    if kind == 2:
        for i in range(n):
            line[i] = (line[i] + up[i]) & 0xFF
        return
    for i in range(n):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 0xFF
        else:
            upper_left = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - upper_left
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - upper_left)
            pred = left if pa <= pb and pa <= pc else up[i] if pb <= pc else upper_left
            line[i] = (line[i] + pred) & 0xFF
