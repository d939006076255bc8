"""A notebook step's HTML report: outputs only, one offline file.

Reports go to the client's SMEs, so code is hidden and the ``injected-parameters`` cell is
removed. The one exception is a failed cell: its source stays visible above its error, so a
no-go report shows what failed and where. Nothing is fetched from a CDN: the template drops
require.js, MathJax, mermaid and the widget manager, and a last pass removes any remote
``<script>`` or ``<link>`` that an output carried in; images are embedded.
"""

from __future__ import annotations

import copy
import html
import os
import re
import tempfile
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter

INJECTED_TAG = "injected-parameters"
_TEMPLATE_NAME = "workbench-offline.html.j2"
_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_REMOTE = r"""(?:https?:)?//"""
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_REMOTE_LINK = re.compile(
    rf"""<link\b[^>]*\bhref\s*=\s*["']?{_REMOTE}[^>]*>""", re.IGNORECASE | re.DOTALL
)
_REMOTE_REFERENCE = re.compile(rf"""(?:src\s*=\s*["']?|["'(]){_REMOTE}""", re.IGNORECASE)


def render_html(
    nb: nbformat.NotebookNode,
    path: Path,
    *,
    title: str,
    failed_cell: int | None = None,
    failure: str | None = None,
) -> Path:
    """Write ``nb`` as one offline HTML file.

    The cell at index ``failed_cell`` keeps its source, under a banner saying ``failure``.
    """
    shown = _report_cells(nb, failed_cell, failure)
    shown.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(shown)
    _write_atomic(path, offline(body))
    return path


def offline(page: str) -> str:
    """``html`` without a script or stylesheet fetched from another host."""
    page = _SCRIPT.sub(lambda m: "" if _REMOTE_REFERENCE.search(m.group(0)) else m.group(0), page)
    return _REMOTE_LINK.sub("", page)


def _report_cells(
    nb: nbformat.NotebookNode, failed_cell: int | None, failure: str | None
) -> nbformat.NotebookNode:
    report = copy.deepcopy(nb)
    report.metadata.pop("papermill", None)  # it holds the parameters as well
    cells = []
    for index, cell in enumerate(report.cells):
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if index == failed_cell:
            cells.append(nbformat.v4.new_markdown_cell(_banner(failure)))
        elif cell.cell_type == "code":
            # nbconvert's per-cell switch: the template leaves out this cell's source.
            cell.metadata["transient"] = {"remove_source": True}
        cells.append(cell)
    report.cells = cells
    return report


def _banner(failure: str | None) -> str:
    text = html.escape(failure or "this cell did not complete")
    return f'<p style="color:#b00020;font-weight:bold">The step failed at this cell: {text}</p>'


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
