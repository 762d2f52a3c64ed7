"""Progress bars on long steps (tqdm), shown on a terminal when ``settings.show_progress`` is on."""

from __future__ import annotations

from collections.abc import Iterable

from . import settings


def progress(items: Iterable, *, desc: str, unit: str = "it"):
    """Wrap ``items`` in a tqdm bar on stderr; silent when not on a terminal or when progress is switched off."""
    if not settings.show_progress:
        return items
    from tqdm import tqdm  # plain text bar: no widget dependency in notebooks

    return tqdm(items, desc=desc, unit=unit, disable=None, leave=False)
