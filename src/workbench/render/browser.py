"""Headless Chromium, cut off from the network, for looking at reports as a person would.

A report must work on a closed hospital network, so the browser that checks it gets no
network either: every proxied request goes to a closed port, loopback included, and no
host name resolves. A page that renders here needs nothing from outside the file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from workbench.errors import WorkbenchError

# Names a headless Chromium goes by across distributions; WORKBENCH_CHROMIUM overrides.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

OFFLINE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # No network: everything goes to a closed port, and nothing resolves.
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)

DEFAULT_TIMEOUT = 60.0


class BrowserError(WorkbenchError):
    """Headless Chromium is missing or could not render a page."""


def find_chromium() -> str:
    override = os.environ.get("WORKBENCH_CHROMIUM")
    if override:
        if shutil.which(override) is None:
            raise BrowserError(f"WORKBENCH_CHROMIUM={override} is not an executable")
        return override
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(
        "no Chromium found (tried: " + ", ".join(CANDIDATES) + "); run scripts/setup"
    )


def screenshot(
    html: Path,
    png: Path,
    *,
    width: int = 1280,
    height: int = 1024,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """A PNG of the page's first ``width`` x ``height`` pixels."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(html, [f"--window-size={width},{height}", f"--screenshot={png.resolve()}"], timeout)
    return _produced(png, html)


def print_pdf(html: Path, pdf: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """The page printed to PDF, without the browser's header and footer."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    _run(html, ["--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}"], timeout)
    return _produced(pdf, html)


def dump_dom(html: Path, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The document as the browser parsed it, once loaded."""
    return _run(html, ["--dump-dom"], timeout)


def _run(html: Path, args: list[str], timeout: float) -> str:
    if not html.is_file():
        raise BrowserError(f"{html}: no such page")
    with tempfile.TemporaryDirectory(prefix="workbench-chromium-") as profile:
        command = [
            find_chromium(),
            *OFFLINE_FLAGS,
            f"--user-data-dir={profile}",
            f"--crash-dumps-dir={profile}",
            *args,
            html.resolve().as_uri(),
        ]
        # Its own session, so a hung browser goes down with all its helper processes.
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "HOME": profile},
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise BrowserError(f"{html}: Chromium did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise BrowserError(f"{html}: Chromium exited with {proc.returncode}: {tail[0]}")
    return out.decode("utf-8", errors="replace")


def _produced(path: Path, html: Path) -> Path:
    if not path.is_file() or path.stat().st_size == 0:
        raise BrowserError(f"{html}: Chromium wrote no {path.suffix.lstrip('.').upper()} file")
    return path
