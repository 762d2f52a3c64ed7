"""Reading a scenario file that might be anything: never a traceback, never a hang, never a number misread.

What a planner may hand over instead of a scenario, and what is said:

* a folder, a device or a pipe (``/dev/zero`` would never end) → "give the .yaml file";
* a huge file (scenarios are a few KB) → refused by size before reading;
* binary data, UTF-16, GBK/GB18030 → "save it as UTF-8", naming the encoding found;
* YAML nested deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses, so 1,000 levels raised ``RecursionError``);
* aliases that expand to more than :data:`MAX_VALUES` values (the "billion laughs" bomb: nine lines that a validator
  walks as 10⁹ values) or that refer to the value containing them;
* values YAML 1.1 reads differently from a person: ``stations: 020`` is octal 16, ``1:30`` is base-60 90, a key
  given twice keeps only the last value, ``.inf``/``.nan`` are not usable numbers. Each is refused with its line and
  the fix. Booleans are YAML 1.2's: only ``true``/``false`` (``no``, ``on``, ``off``, ``yes`` stay text).

All problems found while reading come back together in one :class:`~facility_planner._errors.ScenarioError`.
"""

from __future__ import annotations

import codecs
import math
import re
import stat
from pathlib import Path

import yaml

from ._errors import ScenarioError

#: a scenario is a few KB; anything above this is not one
MAX_BYTES = 1_000_000
#: nesting of mappings/lists (the bundled scenarios need 5)
MAX_DEPTH = 32
#: values after expanding aliases (the bundled scenarios have < 100)
MAX_VALUES = 100_000

_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, bounded nesting and alias expansion, and a list of misreadable values."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.problems: list[tuple[int, str]] = []
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self._open: set[str] = set()
        self._total = 0

    # -- composing: depth and alias expansion ----------------------------------------------------------------------
    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _Refused(
                    f"line {event.start_mark.line + 1}: the alias *{event.anchor} refers to the value that contains "
                    "it (a loop); write the value out instead."
                )
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(id(node), 1), event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"line {event.start_mark.line + 1}: values nested more than {MAX_DEPTH} levels deep; a scenario needs "
                "about 5 (families → a family → existing → file). Check the indentation and brackets."
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        start = self._total
        try:
            self._count(1, event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        self._sizes[id(node)] = self._total - start
        return node

    def _count(self, n: int, mark) -> None:
        self._total += n
        if self._total > MAX_VALUES:
            raise _Refused(
                f"line {mark.line + 1}: the file expands to more than {MAX_VALUES:,} values (aliases `*name` "
                "repeating anchors `&name`); a scenario has a few dozen. Write the values out without nested aliases."
            )

    def _problem(self, line: int, message: str) -> None:
        self.problems.append((line, f"line {line}: {message}"))

    # -- constructing: values a person reads differently ----------------------------------------------------------
    def construct_yaml_int(self, node):
        text = str(node.value)
        line = node.start_mark.line + 1
        if _LEADING_ZERO.match(text):
            digits = text.lstrip("+-").lstrip("0").replace("_", "") or "0"
            self._problem(
                line,
                f"`{text}` has a leading zero, which YAML reads as an octal number "
                f'({super().construct_yaml_int(node)}), not {digits}; write {digits}, or quote it ("{text}") '
                "if it is a code.",
            )
            return int(digits)
        if ":" in text and _SEXAGESIMAL.match(text):
            self._problem(
                line,
                f"`{text}` is read by YAML as a base-60 number ({super().construct_yaml_int(node)}); "
                "write the number itself (e.g. minutes as 90), or quote it if it is text.",
            )
        return super().construct_yaml_int(node)

    def construct_yaml_str(self, node):
        value = super().construct_yaml_str(node)
        if node.style is None and isinstance(value, str) and _LEADING_ZERO.match(value):  # `08`, `09`: not octal
            digits = value.lstrip("+-").lstrip("0").replace("_", "") or "0"
            self._problem(
                node.start_mark.line + 1,
                f'`{value}` has a leading zero, so YAML reads it as text; write {digits}, or quote it ("{value}") '
                "if it is a code.",
            )
        return value

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        text = str(node.value)
        line = node.start_mark.line + 1
        if ":" in text and _SEXAGESIMAL.match(text):
            self._problem(line, f"`{text}` is read by YAML as a base-60 number ({value}); write the number itself.")
        elif not math.isfinite(value):
            self._problem(line, f"`{text}` is not a usable number; write a finite value.")
        return value

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key in seen:
                    self._problem(
                        key_node.start_mark.line + 1,
                        f"key `{key}` is given twice (first on line {seen[key]}); YAML would keep only the last "
                        "value. Keep one.",
                    )
                else:
                    seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _Refused(yaml.YAMLError):
    """A bound exceeded while composing (stops reading at once)."""


BoundedLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
BoundedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)
BoundedLoader.add_constructor("tag:yaml.org,2002:float", BoundedLoader.construct_yaml_float)
BoundedLoader.add_constructor("tag:yaml.org,2002:map", BoundedLoader.construct_yaml_map)
BoundedLoader.add_constructor("tag:yaml.org,2002:str", BoundedLoader.construct_yaml_str)


def read_text_file(path: str | Path, *, what: str = "scenario file", max_bytes: int = MAX_BYTES) -> str:
    """The text of a small UTF-8 file, or one :class:`ScenarioError` saying why not and how to fix it.

    A UTF-8 byte-order mark is accepted and dropped. UTF-16/32 and GBK/GB18030 are recognised and named in the
    message (with how to save as UTF-8); other binary data is refused.
    """
    p = Path(path)
    src = str(p)
    if "\x00" in src:
        raise ScenarioError(src, ["the path contains a NUL character; give the file's real name."])
    try:
        st = p.stat()
    except FileNotFoundError:
        hint = ""
        if p.parent.is_dir():
            near = sorted(q.name for q in p.parent.glob("*.y*ml"))[:5]
            hint = f" YAML files in {p.parent}: {', '.join(near)}." if near else ""
        raise ScenarioError(src, [f"file not found: {p}; check the path.{hint}"]) from None
    except OSError as exc:
        raise ScenarioError(src, [f"cannot read {p}: {exc.strerror}; check the path and its permissions."]) from None
    if stat.S_ISDIR(st.st_mode):
        near = sorted(q.name for q in p.glob("*.y*ml"))[:5]
        hint = f" (it holds {', '.join(near)})" if near else ""
        raise ScenarioError(src, [f"{p} is a folder{hint}; give the {what} itself, e.g. {p / 'scenario.yaml'}."])
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError(src, [f"{p} is not a regular file (a device or pipe); give the {what} saved on disk."])
    if st.st_size > max_bytes:
        raise ScenarioError(
            src,
            [
                f"{p} is {st.st_size / 1e6:,.1f} MB; a {what} is a few KB of text (limit {max_bytes / 1e6:g} MB). "
                "Check that this is the right file."
            ],
        )
    try:
        with open(p, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ScenarioError(src, [f"cannot read {p}: {exc.strerror}; check its permissions."]) from None
    if len(raw) > max_bytes:
        raise ScenarioError(src, [f"{p} is larger than {max_bytes / 1e6:g} MB; a {what} is a few KB of text."])
    return decode_text(raw, source=src, what=what)


def decode_text(raw: bytes, *, source: str, what: str = "scenario file") -> str:
    """Decode UTF-8 (with or without BOM); name any other encoding in a :class:`ScenarioError` with the fix."""
    save = "save it as UTF-8 (in Notepad: File → Save as → Encoding: UTF-8; in VS Code: 'Save with Encoding')"
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32")):
        if raw.startswith(bom):
            raise ScenarioError(source, [f"the {what} is saved as {name}; {save}."])
    for bom, name in ((codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if raw.startswith(bom):
            raise ScenarioError(source, [f"the {what} is saved as {name}; {save}."])
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if b"\x00" in raw:
        if len(raw) > 3 and (raw[1::2].count(0) > len(raw) // 3 or raw[0::2].count(0) > len(raw) // 3):
            raise ScenarioError(source, [f"the {what} looks like UTF-16 text without a byte-order mark; {save}."])
        raise ScenarioError(source, [f"the {what} holds binary data (NUL bytes), not text; give the YAML file."])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        try:
            raw.decode("gb18030")
        except UnicodeDecodeError:
            raise ScenarioError(
                source,
                [f"the {what} is not UTF-8 text (undecodable byte at line {line}); it may be binary. {save}."],
            ) from None
        raise ScenarioError(
            source,
            [f"the {what} is not UTF-8: line {line} looks like GBK/GB18030 (Chinese Windows) text; {save}."],
        ) from None
    bad = [c for c in text if (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0]
    if bad:
        line = text[: text.index(bad[0])].count("\n") + 1
        raise ScenarioError(
            source, [f"the {what} holds a control character {bad[0]!r} on line {line}; it is not plain text."]
        )
    return text


def load_yaml_text(text: str, *, source: str):
    """Parse YAML with :class:`BoundedLoader`; every problem in one :class:`ScenarioError`."""
    data, problems = load_yaml_text_checked(text, source=source)
    if problems:
        raise ScenarioError(source, problems)
    return data


def load_yaml_text_checked(text: str, *, source: str) -> tuple[object, list[str]]:
    """Parse YAML; return the data and the values a person would read differently (octal, base 60, repeated keys).

    Raises
    ------
    ScenarioError
        The text cannot be parsed, or a bound (nesting, alias expansion) is exceeded.
    """
    loader = BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except _Refused as exc:
        raise ScenarioError(source, [str(exc)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"not valid YAML: {_short(exc)}"]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a date like 2026-13-45
        raise ScenarioError(source, [f"a value cannot be read: {_short(exc)}; quote it if it is text."]) from None
    finally:
        loader.dispose()
    return data, [msg for _, msg in sorted(loader.problems, key=lambda lp: lp[0])]


def _short(exc: Exception, limit: int = 400) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + " …"


def read_yaml_file(path: str | Path, *, what: str = "scenario file"):
    """Read and parse a YAML file with every guard of this module; any problem is a :class:`ScenarioError`."""
    return load_yaml_text(read_text_file(path, what=what), source=str(path))


def read_yaml_file_checked(path: str | Path, *, what: str = "scenario file") -> tuple[object, list[str]]:
    """As :func:`read_yaml_file`, but misread values come back as a list of problems, to report with the schema's."""
    return load_yaml_text_checked(read_text_file(path, what=what), source=str(path))
