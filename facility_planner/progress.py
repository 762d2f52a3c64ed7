"""Progress on a terminal for long steps (tqdm on stderr): the demand layer, each family, the maps, the report.

Shown only when ``settings.show_progress`` is on, stderr is a terminal and no ``CI`` environment variable is set, so
logs, pipes and CI runs stay quiet.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from . import settings


def enabled() -> bool:
    """Whether progress bars are drawn now (setting on, stderr a terminal, not in CI)."""
    if not settings.show_progress or os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False  # work running beside other work (families two at a time): the main thread's bar speaks for it
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(items: Iterable, *, desc: str, unit: str = "it", label=None):
    """Wrap ``items`` in a tqdm bar on stderr; the items themselves when progress is off (see :func:`enabled`).

    ``label(item)`` names the item being worked on (shown after the bar).
    """
    if not enabled():
        return items
    from tqdm import tqdm  # plain text bar: no widget dependency in notebooks

    bar = tqdm(items, desc=desc, unit=unit, leave=False, file=sys.stderr)
    if label is None:
        return bar

    def gen():
        for it in bar:
            bar.set_postfix_str(str(label(it)), refresh=True)
            yield it

    return gen()


@contextmanager
def step(desc: str) -> Iterator[None]:
    """A one-line status on stderr while a single long step runs (e.g. building the demand layer)."""
    if not enabled():
        yield
        return
    from tqdm import tqdm

    with tqdm(total=1, desc=desc, leave=False, file=sys.stderr, bar_format="{desc}… {elapsed}") as bar:
        yield
        bar.update(1)


class _NoBar:
    def update(self, n: int = 1) -> None:
        """Nothing to draw."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Nothing to draw."""


@contextmanager
def counter(total: int, *, desc: str, unit: str = "it") -> Iterator[_NoBar]:
    """A bar of ``total`` items updated by hand (``update()``, ``set_postfix_str(label)``), for work done out of order;
    an object that draws nothing when progress is off."""
    if not enabled():
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr) as bar:
        yield bar
