"""Rendering shared by every stage's reports: self-contained HTML, inline SVG charts,
spreadsheets within Excel's limits. No stage logic lives here."""
