"""The ipywidgets pane over the mapper (``notebooks/03_map.ipynb``): pick a source and a
target table, edit the expressions, then Preview, Save, or Seed from annotations.

``workbench.mapping.mapper`` re-exports ``MapperPane``; this module imports the mapper only
for type checking, so neither import depends on the other at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.mapping.mapper import Draft, Mapper, Preview


class MapperPane:
    """The ipywidgets pane: pick a source and a target table, edit the expressions, then
    Preview, Save, or Seed from annotations. Errors show inline, never as a traceback."""

    def __init__(self, mapper: Mapper, source_table: str, target_table: str, name: str) -> None:
        import ipywidgets as w

        self.mapper, self.w = mapper, w
        sources, targets = mapper.source_tables(), mapper.target_tables()
        self.source = w.Dropdown(
            options=sources,
            description="source",
            value=source_table if source_table in sources else sources[0],
        )
        self.target = w.Dropdown(
            options=targets,
            description="target",
            value=target_table if target_table in targets else targets[0],
        )
        self.name = w.Text(value=name, description="draft name")
        self.key = w.Text(description="source key")
        self.rows = w.VBox()
        self.status = w.HTML()
        self.output = w.Output()
        buttons = [
            ("Preview", self._on_preview),
            ("Save", self._on_save),
            ("Seed from annotations", self._on_seed),
        ]
        bar = []
        for label, handler in buttons:
            button = w.Button(description=label, layout=w.Layout(width="auto"))
            button.on_click(handler)
            bar.append(button)
        self.boxes: dict[str, Any] = {}
        self.widget = w.VBox(
            [
                w.HBox([self.source, self.target]),
                w.HBox([self.name, self.key]),
                self.rows,
                w.HBox(bar),
                self.status,
                self.output,
            ]
        )
        self.source.observe(self._reload, "value")
        self.target.observe(self._reload, "value")
        self._reload()

    def draft(self) -> Draft:
        """The draft as the pane shows it now."""
        for column, box in self.boxes.items():
            self._draft.set(column, box.value)
        self._draft.key = self.key.value.strip()
        return self._draft

    def _reload(self, *_: object) -> None:
        try:
            self._draft = self.mapper.draft(self.source.value, self.target.value)
        except WorkbenchError as e:  # a broken base template or map: say so in the pane
            self._say(str(e), error=True)
            return
        self.key.value = self._draft.key
        w, rows, self.boxes = self.w, [], {}
        for f in self._draft.fields:
            label = w.HTML(
                f"<b>{f.column}</b>" if f.required else f.column, layout=w.Layout(width="11rem")
            )
            about = " · ".join(
                p for p in (f.type, "required" if f.required else "", f.value_set) if p
            )
            info = w.HTML(f"<small>{_esc(about)}</small>", layout=w.Layout(width="16rem"))
            if f.by_variants:
                rows.append(
                    w.HBox(
                        [label, info, w.HTML(f"<i>set by variants: {', '.join(f.by_variants)}</i>")]
                    )
                )
                continue
            box = w.Combobox(
                value=f.expr,
                options=f.suggestions,
                ensure_option=False,
                placeholder="SQL expression",
                layout=w.Layout(width="34rem"),
            )
            self.boxes[f.column] = box
            rows.append(w.HBox([label, info, box, w.HTML(f"<small>{f.origin}</small>")]))
        self.rows.children = rows
        self._say("; ".join(self._draft.notes) or "no base mapping: suggestions from names")

    def _on_preview(self, *_: object) -> Preview | None:
        from IPython.display import display

        try:
            found = self.mapper.preview(self.draft())
        except WorkbenchError as e:  # the draft's SQL is the user's: show it, keep the pane
            self._say(str(e), error=True)
            return None
        self.output.clear_output()
        with self.output:
            display(found.fates, found.fields, found.rows)
        extra = f"; references not checked: {', '.join(found.unchecked)}" if found.unchecked else ""
        self._say(f"previewed with parents: {', '.join(found.included) or 'none'}{extra}")
        return found

    def _on_save(self, *_: object) -> Path | None:
        try:
            path = self.mapper.save(self.draft(), self.name.value.strip())
        except WorkbenchError as e:  # PermissionDenied and MappingError carry their message
            self._say(str(e), error=True)
            return None
        self._say(f"saved {path}")
        return path

    def _on_seed(self, *_: object) -> None:
        try:
            seed = self.mapper.seed(self.source.value, self.target.value)
        except WorkbenchError as e:
            self._say(str(e), error=True)
            return
        for column, expr in seed.fields.items():
            if column in self.boxes:
                self.boxes[column].value = expr
        skipped = f"; skip: {', '.join(seed.skipped)}" if seed.skipped else ""
        self._say(f"seeded {len(seed.fields)} fields from the SMEs' annotations{skipped}")

    def _say(self, text: str, error: bool = False) -> None:
        color = "#9b1c1c" if error else "#616e7c"
        self.status.value = f'<span style="color:{color}">{_esc(text)}</span>'


def _esc(text: str) -> str:
    import html

    return html.escape(text)
