"""Property tests: generated bad scenario files and bad output paths end in a FacilityPlannerError (or a correct
result), never another exception, never a hang.

Everything generated here is SYNTHETIC: mutations of the bundled scenario files, random YAML, junk bytes, odd paths.
"""

from __future__ import annotations

import json
import os
import signal
import string
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from facility_planner import FacilityPlannerError, Scenario
from facility_planner._output import OutputDir, check_output_dir, write_output_file
from facility_planner._yaml import MAX_DEPTH, MAX_VALUES
from facility_planner.cli import app
from facility_planner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
runner = CliRunner()
HANG_S = 20  # a single bad input may take this long at most (a hang is far longer)
# the scenario schema's own key names, so mutations hit real keys as often as unknown ones
KEYS = [
    "name",
    "district",
    "demand",
    "cell_size_m",
    "shape",
    "travel",
    "mode",
    "time_limit_min",
    "families",
    "eldercare_stations",
    "stations",
    "quota",
    "existing",
    "file",
    "coord_system",
    "solver",
    "time_limit_s",
    "outputs",
    "maps",
    "psych_points",
    "share",
    "enabled",
]
YAML_BITS = [": ", "- ", "[", "]", "{", "}", "&a ", "*a", "!!binary ", "!!python/object ", "|\n", ">\n", "? ", "#",
             "'", '"', "%YAML 1.1\n", "---\n", "...\n", "\t", "0o17", "020", "1:30", ".inf", ".nan", "~", "null",
             "no", "yes", "2026-13-45", "1e400", "-0", "0x1F", "\\u0000", "\u3000", "：", "１２", "\ufeff"]  # fmt: skip

common = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def no_hang(seconds: float = HANG_S):
    """Fail (rather than hang the suite) when the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):  # pragma: no cover
        yield
        return

    def alarm(*_):
        raise TimeoutError(f"no answer after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _load_cleanly(path: Path):
    """load_scenario must give a Scenario or a FacilityPlannerError with a message; anything else fails the test."""
    with no_hang():
        try:
            scn = load_scenario(path)
        except FacilityPlannerError as exc:
            assert str(exc).strip(), "an error without a message"
            assert len(str(exc)) < 20_000, "a message a person cannot read"
            return exc
    assert isinstance(scn, Scenario)
    return scn


# ------------------------------------------------------------------------------------------------ strategies
@st.composite
def mutated_text(draw):
    """A bundled scenario with 1–6 random edits: cut, insert YAML syntax or junk, duplicate, reindent, retype."""
    text = SCENARIOS[draw(st.sampled_from(sorted(SCENARIOS)))]
    for _ in range(draw(st.integers(1, 6))):
        lines = text.split("\n")
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(st.sampled_from(["cut", "insert", "dup", "indent", "dedent", "value", "key", "chars"]))
        if op == "cut":
            a = draw(st.integers(0, len(text)))
            b = draw(st.integers(a, min(len(text), a + 40)))
            text = text[:a] + text[b:]
            continue
        if op == "insert":
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.sampled_from(YAML_BITS)) + text[pos:]
            continue
        if op == "chars":
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.text(min_size=1, max_size=8)) + text[pos:]
            continue
        if op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 5)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "value" and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {draw(scalar_text)}"
        elif op == "key":
            lines.insert(
                i, " " * draw(st.sampled_from([0, 2, 4, 6])) + f"{draw(st.sampled_from(KEYS))}: {draw(scalar_text)}"
            )
        text = "\n".join(lines)
    return text


scalar_text = st.one_of(
    st.sampled_from(["020", "0", "-1", "1e400", ".inf", "-.nan", "1:30", "true", "no", "~", "[]", "{}", "''", "x" * 300,
                     "2026-13-45", "1_000", "0x1F", "!!binary aGVsbG8=", "*undefined", "&a 1", "北京", "１２００"]),
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=string.printable, max_size=20).map(lambda s: yaml.safe_dump(s).split("\n")[0]),
)  # fmt: skip

yaml_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.dates(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10), st.integers()), children, max_size=4),
    ),
    max_leaves=30,
)


@st.composite
def scenario_dicts(draw):
    """A scenario mapping with wrong types, unknown keys and random structure where real values go."""
    base = yaml.safe_load(SCENARIOS[draw(st.sampled_from(sorted(SCENARIOS)))]) or {}
    for _ in range(draw(st.integers(1, 4))):
        node = base
        path = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3))
        for k in path[:-1]:
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        node[path[-1]] = draw(yaml_values)
    return base


# ------------------------------------------------------------------------------------------------ scenario files
@pytest.mark.slow  # over 3 s: out of `make check`, in `make test`
@settings(common, max_examples=300)
@given(text=mutated_text())
def test_mutated_scenario_files(tmp_path, text):
    f = tmp_path / "s.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    _load_cleanly(f)


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
@settings(common, max_examples=150)
@given(data=scenario_dicts())
def test_wrong_types_and_unknown_keys(tmp_path, data):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _load_cleanly(f)


@settings(common, max_examples=150)
@given(raw=st.one_of(st.binary(max_size=4000), st.binary(min_size=1, max_size=50).map(lambda b: b * 200)))
def test_binary_junk(tmp_path, raw):
    f = tmp_path / "s.yaml"
    f.write_bytes(raw)
    _load_cleanly(f)


@settings(common, max_examples=60)
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-32", "gb18030", "gbk", "big5", "latin-1", "utf-8-sig"]),
    extra=st.text(alphabet="北京海淀区养老驿站éü", min_size=1, max_size=10),
)
@example(name="sample_small.yaml", encoding="gb18030", extra="站")  # GBK bytes that are also valid UTF-8
@example(name="sample_small.yaml", encoding="gbk", extra="北京")
def test_other_encodings_are_named_or_read(tmp_path, name, encoding, extra):
    f = tmp_path / "s.yaml"
    text = SCENARIOS[name] + f"\ndescription: {extra}\n"
    try:
        f.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        assume(False)
    got = _load_cleanly(f)
    try:
        text.encode(encoding).decode("utf-8")
        also_utf8 = True  # e.g. 站 in GBK is D5 BE, which is also valid UTF-8 (վ): nothing can tell the file apart
    except UnicodeDecodeError:
        also_utf8 = False
    if encoding in ("utf-16", "utf-16-le", "utf-32") or (encoding in ("gb18030", "gbk") and not also_utf8):
        assert isinstance(got, FacilityPlannerError) and "UTF-8" in str(got)


@pytest.mark.slow  # over 3 s: out of `make check`, in `make test`
@settings(common, max_examples=40)
@given(depth=st.integers(MAX_DEPTH - 2, 20_000), flow=st.booleans())
def test_deep_nesting(tmp_path, depth, flow):
    f = tmp_path / "s.yaml"
    if flow:
        f.write_text("name: x\nfamilies: " + "[" * depth + "]" * depth + "\n")
    else:
        f.write_text("name: x\nfamilies:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(min(depth, 3000))))
    got = _load_cleanly(f)
    assert isinstance(got, FacilityPlannerError)
    if depth > MAX_DEPTH + 2 and flow:
        assert "nested" in str(got)


@settings(common, max_examples=40)
@given(fanout=st.integers(2, 12), levels=st.integers(1, 12), self_ref=st.booleans())
def test_alias_expansion_is_bounded(tmp_path, fanout, levels, self_ref):
    lines = ["name: x", "l0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fanout) + "]")
    if self_ref:
        lines.append("loop: &loop [1, *loop]")
    f = tmp_path / "s.yaml"
    f.write_text("\n".join(lines) + "\n")
    got = _load_cleanly(f)
    assert isinstance(got, FacilityPlannerError)  # unknown keys at the least
    if fanout**levels > MAX_VALUES:
        assert "expands to more than" in str(got)


@settings(common, max_examples=30)
@given(digits=st.from_regex(r"0[0-9]{1,4}", fullmatch=True))
def test_leading_zero_numbers_are_refused_with_the_fix(tmp_path, digits):
    f = tmp_path / "s.yaml"
    f.write_text(f"name: x\nfamilies:\n  eldercare_stations:\n    stations: {digits}\n")
    got = _load_cleanly(f)
    assert isinstance(got, FacilityPlannerError) and "leading zero" in str(got)
    assert f"write {int(digits)}" in str(got)


def test_special_paths(tmp_path):
    for p in (tmp_path, tmp_path / "missing.yaml", Path("/dev/zero"), Path("/dev/null"), Path("a\x00b.yaml")):
        got = _load_cleanly(p)
        assert isinstance(got, FacilityPlannerError), p
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(50_000_000)
    assert "MB" in str(_load_cleanly(big))


@settings(common, max_examples=25)
@given(text=mutated_text())
def test_validate_command_never_crashes(tmp_path, text):
    f = tmp_path / "s.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    with no_hang(60):
        r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code in (0, 2), r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        assert "error:" in r.output


# ------------------------------------------------------------------------------------------------ output paths
@st.composite
def bad_out_paths(draw, root: Path):
    """Output paths that exist as files, lie below files, are non-empty, odd or too long, and some good ones."""
    kind = draw(st.sampled_from(["file", "below_file", "non_empty", "long", "nul", "odd", "deep_new", "dot"]))
    name = draw(
        st.text(alphabet=string.ascii_letters + "北京 -_.", min_size=1, max_size=12).filter(lambda s: s.strip(". "))
    )
    if kind == "file":
        p = root / f"{name}.txt"
        p.write_text("x")
    elif kind == "below_file":
        f = root / f"{name}.txt"
        f.write_text("x")
        p = f / "sub" / "out"
    elif kind == "non_empty":
        p = root / name
        p.mkdir(exist_ok=True)
        (p / "notes.txt").write_text("keep")
    elif kind == "long":
        p = root / (name * 300)[:300]
    elif kind == "nul":
        p = root / f"a\x00{name}"
    elif kind == "odd":
        p = root / draw(st.sampled_from(["-", " ", "北京 规划", "con", "a:b", "%s", "$HOME"]))
    elif kind == "deep_new":
        p = root / name / "x" / "y"
    else:
        p = root / "."
    return kind, p


@settings(common, max_examples=80)
@given(data=st.data())
def test_output_folder_paths(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("outs")
    kind, p = data.draw(bad_out_paths(root))
    force = data.draw(st.booleans())
    with no_hang():
        try:
            check_output_dir(p, force=force)
            with OutputDir(p, force=force, command="t") as stage:
                (stage.path / "a.txt").write_text("A")
        except FacilityPlannerError as exc:
            assert str(exc).strip()
        else:
            assert (p / "a.txt").read_text() == "A"
            assert kind in ("odd", "deep_new", "non_empty", "dot")
    if kind == "non_empty" and (p / "notes.txt").exists():
        assert (p / "notes.txt").read_text() == "keep"
    leftovers = [q for q in root.rglob("*") if ".fp-tmp-" in q.name]
    assert leftovers == []


@settings(common, max_examples=60)
@given(data=st.data())
def test_output_file_paths(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("files")
    kind, p = data.draw(bad_out_paths(root))
    force = data.draw(st.booleans())
    with no_hang():
        try:
            write_output_file(p, "{}", force=force)
        except FacilityPlannerError as exc:
            assert str(exc).strip()
        else:
            assert p.read_text() == "{}"
            assert kind in ("odd", "deep_new") or (kind == "file" and force), kind
    assert [q for q in root.rglob("*") if ".fp-tmp-" in q.name] == []


@pytest.mark.slow  # over 3 s: out of `make check`, in `make test`
@settings(common, max_examples=40)
@given(data=st.data())
def test_cli_out_paths(tmp_path_factory, data):
    """`run` (with a scenario that fails validation after the path checks) and `benchmark --json` on odd paths."""
    root = tmp_path_factory.mktemp("cli")
    _, p = data.draw(bad_out_paths(root))
    bad_scn = root / "bad.yaml"
    bad_scn.write_text("name: x\ndemand:\n  cell_size_m: many\n")
    force = ["--force"] if data.draw(st.booleans()) else []
    for args in (
        ["run", str(bad_scn), "--out", str(p), *force],
        ["benchmark", "pmed", str(root / "no-such-folder"), "--json", str(p), *force],
    ):
        with no_hang():
            r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
        assert "error:" in r.output or "Usage:" in r.output  # ours, or click's for a NUL byte no shell can pass


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_output_folder_cli(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda q, mode: False if Path(q) == ro else real(q, mode))
    r = runner.invoke(app, ["run", str(ROOT / "scenarios" / "sample_small.yaml"), "--out", str(ro / "plan")])
    assert r.exit_code == 2 and "read-only" in r.output


manifest_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=20,
)


@settings(common, max_examples=60)
@given(
    junk=st.one_of(
        manifest_json.map(lambda v: json.dumps(v)),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.lists(
            st.sampled_from(
                ["../outside.txt", "/etc/hostname", "", ".", "manifest.json", "a.txt", "sub/../../outside.txt"]
            ),
            max_size=5,
        ).map(lambda ps: json.dumps({"files": [{"path": p, "bytes": 1, "sha256": "x"} for p in ps], "commands": "x"})),
    )
)
def test_a_damaged_manifest_never_deletes_elsewhere_nor_crashes(tmp_path_factory, junk):
    root = tmp_path_factory.mktemp("man")
    outside = root / "outside.txt"
    outside.write_text("precious")
    out = root / "plan"
    out.mkdir()
    (out / "manifest.json").write_text(junk, encoding="utf-8", errors="surrogatepass")
    (out / "a.txt").write_text("x")
    with no_hang(), OutputDir(out, force=True, command="t") as stage:
        (stage.path / "b.txt").write_text("B")
    assert outside.read_text() == "precious" and (out / "b.txt").read_text() == "B"
    assert json.loads((out / "manifest.json").read_text("utf-8"))["files"][0]["path"] == "b.txt"
