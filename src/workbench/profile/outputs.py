"""Writing the data migration map: profile.json, the spreadsheet and the offline page."""

from __future__ import annotations

from pathlib import Path

from workbench.profile import map_html, map_xlsx
from workbench.profile.model import Profile
from workbench.profile.store import PROFILE_NAME, write_profile

XLSX_NAME = "data-migration-map.xlsx"
HTML_NAME = "data-migration-map.html"


def write_map(profile: Profile, out_dir: Path) -> dict[str, Path]:
    """Write every form of the map into ``out_dir``; returns the paths by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        PROFILE_NAME: write_profile(profile, out_dir / PROFILE_NAME),
        XLSX_NAME: map_xlsx.write(profile, out_dir / XLSX_NAME),
        HTML_NAME: map_html.write(profile, out_dir / HTML_NAME),
    }
