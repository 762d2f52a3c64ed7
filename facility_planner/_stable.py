"""Byte-identical map pages from identical plans: folium's random element ids replaced by numbered ones.

branca gives every element a random 128-bit id (``map_3f2a…``, ``geo_json_9d70…``) and folium's ``DualMap`` copies
layers with new random ids, so two saves of one map differ in hundreds of places. :func:`stable_ids` walks the
element tree, collects exactly those ids, and renames them ``000…001``, ``000…002``, … in order of first appearance
in the page. Only ids that belong to the tree are touched, never data that merely looks like hex.
"""

from __future__ import annotations

import re

_HEX32 = re.compile(r"[0-9a-f]{32}")


def element_ids(root) -> set[str]:
    """The ``_id`` of ``root`` and of every element reachable from it (children and element-valued attributes)."""
    from branca.element import Element

    ids: set[str] = set()
    seen: set[int] = set()
    stack = [root]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        el_id = getattr(el, "_id", None)
        if isinstance(el_id, str):
            ids.add(el_id)
        stack.extend(getattr(el, "_children", {}).values())
        for value in vars(el).values():
            if isinstance(value, Element):
                stack.append(value)
            elif isinstance(value, list | tuple):
                stack.extend(v for v in value if isinstance(v, Element))
    return ids


def stable_ids(html: str, root) -> str:
    """``html`` (rendered from ``root``) with each element id of ``root``'s tree renamed by order of appearance."""
    ids = element_ids(root)
    names: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        token = m.group(0)
        if token not in ids:
            return token
        if token not in names:
            names[token] = f"{len(names) + 1:032x}"
        return names[token]

    return _HEX32.sub(rename, html)
