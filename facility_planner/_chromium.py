"""Headless Chromium, offline: the one place that finds and starts it (PDF export, the map tests, the benchmark).

Every network request is blocked and the profile is thrown away, so a page that still reached out to the network
would fail to draw instead of quietly loading something.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from ._errors import FacilityPlannerError


def chromium_path() -> str | None:
    """The headless Chromium on this machine, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run_headless(url: str, *args: str, timeout_s: float = 60, exe: str | None = None) -> None:
    """Open ``url`` in headless Chromium, every network request blocked, in a throwaway profile.

    ``args`` go to Chromium (e.g. ``--screenshot=…`` or ``--print-to-pdf=…``); ``exe`` is the browser to start
    (:func:`chromium_path` when not given).

    Raises
    ------
    FacilityPlannerError
        No Chromium is installed.
    subprocess.CalledProcessError, subprocess.TimeoutExpired
        Chromium failed, or took longer than ``timeout_s``.
    """
    exe = exe or chromium_path()
    if exe is None:
        raise FacilityPlannerError(
            "no Chromium found; install it (Debian: apt-get install chromium), or print "
            "report.html from a browser (A4 landscape is preset)."
        )
    with tempfile.TemporaryDirectory() as prof:
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={prof}",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--proxy-server=127.0.0.1:9",
                *args,
                url,
            ],
            check=True,
            timeout=timeout_s,
            capture_output=True,
        )
