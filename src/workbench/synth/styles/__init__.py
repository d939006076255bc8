"""The legacy styles the generator can imitate, by name."""

from __future__ import annotations

from workbench.errors import SynthError
from workbench.synth.styles import medgate, ohm
from workbench.synth.tables import Style

STYLES: dict[str, Style] = {s.name: s for s in (ohm.STYLE, medgate.STYLE)}


def get_style(name: str) -> Style:
    try:
        return STYLES[name.lower()]
    except KeyError:
        raise SynthError(f"unknown style {name!r} (known: {', '.join(STYLES)})") from None
