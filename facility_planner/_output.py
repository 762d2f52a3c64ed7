"""Writing outputs without losing anything: staged, atomic, recorded in a manifest, never clobbering by surprise.

A command that writes a **folder** (``run``, ``maps``) goes through :class:`OutputDir`:

* every file is written into a temporary folder beside ``--out`` (same file system), then renamed into place, so an
  error or Ctrl-C leaves either the old files or the new ones, never half of a plan, and no temporary folder;
* ``manifest.json`` in the folder lists each file the runs wrote (path, bytes, SHA-256) and the commands that wrote
  them;
* a non-empty folder is refused unless ``force``; with ``force`` only the files of the manifest and the files about to
  be written are replaced; anything else (a planner's ``notes.txt``) stays, and :class:`OutputReport` says so. A file
  of the old manifest that was edited since (its hash differs) is kept, not deleted.

A command that writes **one file** (``compare --out``, ``benchmark --json``, ``demand --out``) uses
:func:`check_output_file` before its work and :func:`staged_output_file` / :func:`write_output_file` to write it.

Every problem with the path itself (a file where a folder is wanted, a parent that is a file or read-only, a folder
that cannot be listed) is an :class:`~facility_planner._errors.OutputPathError` that says what to do.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import OutputExistsError, OutputPathError
from ._interrupt import deferred_signals

MANIFEST = "manifest.json"
_TMP_TAG = ".fp-tmp-"
_SHOW = 5  # names shown in a message before "… and N more"


# --------------------------------------------------------------------------------------------------- small helpers
def command_line(argv: list[str] | None = None) -> str:
    """The command as typed (``facility-planner run scenarios/x.yaml --out o``), for the manifest.

    Outside the ``facility-planner`` command (a notebook calling ``Plan.write``) it says so instead of recording the
    host program's arguments.
    """
    argv = list(sys.argv if argv is None else argv)
    prog = Path(argv[0]).name if argv else ""
    if prog in ("facility-planner", "facility_planner", "cli.py", "__main__.py"):
        return shlex.join(["facility-planner", *argv[1:]])
    return f"Python API (in {prog or 'python'})"


def _names(items: Iterable[str]) -> str:
    items = list(items)
    shown = ", ".join(items[:_SHOW])
    return shown + (f" … and {len(items) - _SHOW} more" if len(items) > _SHOW else "")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _os_problem(exc: OSError, path: Path, doing: str) -> OutputPathError:
    """An OSError while writing as a message that says what to do."""
    where = Path(exc.filename) if getattr(exc, "filename", None) else path
    if exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"{where} is not writable for this user; choose another folder or change its permissions"
    elif exc.errno == errno.EROFS:
        fix = f"{where} is on a read-only file system; choose a folder on a writable disk"
    elif exc.errno == errno.ENOSPC:
        fix = "the disk is full; free some space or choose another disk"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = f"a part of {where} is a file, not a folder; choose another path"
    elif exc.errno == errno.ENAMETOOLONG:
        fix = "the path is too long; choose a shorter name"
    else:
        fix = f"{exc.strerror or exc}; check the path"
    return OutputPathError(f"cannot {doing} {path}: {fix}.")


def _check_path_text(path: Path) -> Path:
    """Refuse a path no file system takes: a NUL character, or a name longer than 255 bytes."""
    text = os.fspath(path)
    if "\x00" in text:
        raise OutputPathError(f"the path {text!r} contains a NUL character; choose a plain file or folder name.")
    long = [part for part in Path(text).parts if len(os.fsencode(part)) > 255]
    if long:
        raise OutputPathError(
            f"the name {long[0][:40]}… is {len(os.fsencode(long[0]))} bytes long; file systems allow 255. "
            "Choose a shorter name."
        )
    return path


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows: never judge, never remove
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temporaries(parent: Path, name: str) -> list[Path]:
    """Remove temporaries of ``name`` in ``parent`` left by a process that no longer runs (killed with SIGKILL)."""
    removed: list[Path] = []
    try:
        candidates = list(parent.glob(f".{glob_escape(name)}{_TMP_TAG}*"))
    except OSError:
        return removed
    for p in candidates:
        try:
            pid = int(p.name[len(name) + 1 + len(_TMP_TAG) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with suppress(OSError):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed.append(p)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped."""
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _temp_name(name: str, suffix: str = "") -> str:
    return f".{name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _ensure_parent(path: Path, what: str) -> list[Path]:
    """Make ``path``'s parent folder (and missing ancestors); return the folders created. Clear error if impossible."""
    parent = path.parent if str(path.parent) else Path(".")
    if parent.is_dir():
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputPathError(
                f"cannot write {what} {path}: the folder {parent} is read-only for this user; "
                "choose another path or change the folder's permissions."
            )
        return []
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise OutputPathError(
            f"cannot write {what} {path}: {base} is a file, not a folder; choose another path "
            f"(e.g. next to it: {base.parent / path.name})."
        )
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write {what} {path}: the folder {base} is read-only for this user, so {parent} cannot be made; "
            "choose another path or change the folder's permissions."
        )
    created = []
    p = parent
    while not p.exists():
        created.append(p)
        p = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_problem(exc, path, f"make the folder for {what}") from None
    return created[::-1]


def _remove_created(created: list[Path]) -> None:
    for p in reversed(created):
        with suppress(OSError):
            p.rmdir()


# --------------------------------------------------------------------------------------------------- single files
def check_output_file(path: str | Path, *, force: bool, what: str = "output file") -> Path:
    """Refuse an output file that exists (unless ``force``), a folder in its place, or a parent that cannot be written.

    Call it before the work, so a long computation is not wasted on a path that will be refused.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is False.
    OutputPathError
        ``path`` is a folder, or its parent is a file or read-only.
    """
    p = _check_path_text(Path(path))
    if p.is_dir():
        raise OutputPathError(f"{p} is a folder; give a file name for the {what} (e.g. {p / 'out.html'}).")
    if p.exists() and not force:
        raise OutputExistsError(f"{p} exists; choose another file name or pass --force to replace it.")
    parent = p.parent
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise OutputPathError(f"cannot write {what} {p}: {base} is a file, not a folder; choose another path.")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write {what} {p}: the folder {base} is read-only for this user; "
            "choose another path or change the folder's permissions."
        )
    return p


@contextmanager
def staged_output_file(path: str | Path, *, force: bool, what: str = "output file") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, not yet existing); rename it into place on success.

    On any error or interrupt the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with staged_output_file("plan.gpkg", force=False) as tmp:  # doctest: +SKIP
    ...     pyogrio.write_dataframe(df, tmp, layer="cells")
    """
    p = check_output_file(path, force=force, what=what)
    created = _ensure_parent(p, what)
    remove_stale_temporaries(p.parent, p.name)
    tmp = p.with_name(_temp_name(p.name, "".join(p.suffixes[-1:])))
    ok = False
    try:
        yield tmp
        if not tmp.exists():
            raise OutputPathError(f"nothing was written for {p}.")
        with deferred_signals():
            if p.exists() and not force:  # appeared while we worked
                raise OutputExistsError(f"{p} exists; choose another file name or pass --force to replace it.")
            if tmp.is_file():
                with suppress(OSError):
                    os.chmod(tmp, 0o666 & ~_umask())
            try:
                os.replace(tmp, p)
            except OSError as exc:
                raise _os_problem(exc, p, f"write {what}") from None
            ok = True
    except OSError as exc:
        if isinstance(exc, OutputPathError | OutputExistsError):
            raise
        raise _os_problem(exc, p, f"write {what}") from None
    finally:
        if not ok:
            with deferred_signals():
                with suppress(OSError):
                    shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink(missing_ok=True)
                _remove_created(created)


def write_output_file(
    path: str | Path, data: str | bytes, *, force: bool, encoding: str = "utf-8", what: str = "output file"
) -> Path:
    """Write text or bytes to ``path`` atomically; refuse an existing file unless ``force``.

    Raises
    ------
    OutputExistsError, OutputPathError
        As :func:`check_output_file`.
    """
    with staged_output_file(path, force=force, what=what) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding=encoding)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically (no existence check: for files inside a staged folder)."""
    return write_output_file(path, text, force=True, encoding=encoding)


@contextmanager
def reproducible_gpkg() -> Iterator[None]:
    """GeoPackages written in the block carry a fixed ``last_change`` time, so equal plans are equal bytes.

    GDAL stamps each layer's ``gpkg_contents.last_change`` with the current time; its ``OGR_CURRENT_DATE`` option
    replaces that. The stamp is ``SOURCE_DATE_EPOCH`` when set (the reproducible-builds convention), else
    1970-01-01T00:00:00Z: it says nothing about when the plan was made (the file's own time does).
    """
    import datetime as dt

    import pyogrio

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "0")
    try:
        when = dt.datetime.fromtimestamp(int(epoch), dt.UTC)
    except (ValueError, OverflowError, OSError):
        when = dt.datetime.fromtimestamp(0, dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


# --------------------------------------------------------------------------------------------------- folders
def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of an output folder, or None when there is none (or it is not ours / not readable)."""
    p = Path(folder) / MANIFEST
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    files = [f for f in data["files"] if isinstance(f, dict) and isinstance(f.get("path"), str)]
    commands = data.get("commands")
    commands = [c for c in commands if isinstance(c, str)] if isinstance(commands, list) else []
    return {**data, "files": files, "commands": commands}


def _safe_rel(rel: str) -> bool:
    """A manifest path that stays inside the folder (a hand-edited manifest must not delete elsewhere)."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and rel != MANIFEST


def _files_under(root: Path, *, skip_hidden_tmp: bool = True) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_hidden_tmp:
            dirnames[:] = [d for d in dirnames if _TMP_TAG not in d]
        rel_dir = Path(dirpath).relative_to(root)
        for f in filenames:
            if skip_hidden_tmp and _TMP_TAG in f:
                continue
            out.append((rel_dir / f).as_posix())
    return sorted(out)


@dataclass
class OutputReport:
    """What a write did to a folder.

    ``path`` is the folder; ``written`` every file this command wrote (relative paths); ``replaced`` those that were
    there before; ``removed`` files of the previous run that this one no longer writes; ``kept`` files in the folder
    that facility_planner did not write (left in place); ``kept_edited`` files of the previous run that were edited
    since (left in place rather than deleted). An ``OutputReport`` is path-like, so ``Path(report)`` is the folder.
    """

    path: Path
    written: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    #: what was asked for but could not be written (e.g. the PDF when Chromium failed), with the reason
    not_written: list[str] = field(default_factory=list)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __truediv__(self, other: str) -> Path:
        return self.path / other

    def messages(self) -> list[str]:
        """One line per thing a planner should know (nothing when a new folder was written)."""
        lines = list(self.not_written)
        if self.replaced:
            lines.append(f"replaced {len(self.replaced)} file(s) a previous run wrote in {self.path}.")
        if self.removed:
            lines.append(
                f"removed {len(self.removed)} file(s) of the previous run not written again: {_names(self.removed)}."
            )
        if self.kept:
            lines.append(
                f"kept {len(self.kept)} file(s) in {self.path} that facility_planner did not write: {_names(self.kept)}."
            )
        if self.kept_edited:
            lines.append(
                f"kept {len(self.kept_edited)} file(s) of the previous run that were edited since it wrote them "
                f"(delete them by hand if no longer wanted): {_names(self.kept_edited)}."
            )
        return lines


class OutputDir:
    """Stage a folder of outputs and move it into place when complete.

    Parameters
    ----------
    out
        The folder to write (``--out``).
    force
        Replace what a previous run wrote. Without it a non-empty folder is refused (``mode="run"``), or any file
        about to be written that already exists (``mode="update"``).
    mode
        ``"run"``: the folder holds one run's outputs; files of the previous manifest not written again are removed.
        ``"update"``: add or replace some files (``maps`` redrawing maps); the rest of the manifest stays.
    expect
        For ``mode="update"``: names (files or folders, relative to ``out``) the command will write, refused early
        when they exist and ``force`` is False.
    command
        Recorded in the manifest; the process's command line when None.
    extra
        JSON-serialisable facts about this run for the manifest (timings), kept out of the plan files so those are
        byte-identical from run to run.

    Examples
    --------
    >>> with OutputDir("out/plan", force=False) as stage:  # doctest: +SKIP
    ...     (stage.path / "summary.json").write_text("{}")
    >>> stage.report.messages()  # doctest: +SKIP
    """

    def __init__(
        self,
        out: str | Path,
        *,
        force: bool = False,
        mode: str = "run",
        expect: Iterable[str] = (),
        command: str | None = None,
        extra: dict | None = None,
    ) -> None:
        if mode not in ("run", "update"):
            raise ValueError(f"mode must be 'run' or 'update', not {mode!r}")
        self.out = Path(out)
        self.force = force
        self.mode = mode
        self.expect = list(expect)
        self.command = command_line() if command is None else command
        self.extra = extra or {}
        self.path: Path = self.out  # the staging folder once entered
        self.report = OutputReport(self.out)
        self._created: list[Path] = []

    # -- checks ----------------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Refuse now what would be refused at the end (call before a long run)."""
        check_output_dir(self.out, force=self.force, mode=self.mode, expect=self.expect)

    def __enter__(self) -> OutputDir:
        self.check()
        self._created = _ensure_parent(self.out, "the output folder")
        remove_stale_temporaries(self.out.parent, self.out.name)
        stage_parent = self.out.parent
        if self.out.is_dir() and not os.access(stage_parent, os.W_OK | os.X_OK):
            stage_parent = self.out  # a writable folder in a read-only one: stage inside it (same file system)
        try:
            self.path = stage_parent / _temp_name(self.out.name)
            self.path.mkdir()
        except OSError as exc:
            _remove_created(self._created)
            raise _os_problem(exc, self.out, "write the output folder") from None
        except BaseException:
            # Ctrl-C/SIGTERM as the folder was being made (it can land once mkdir has made it): __exit__ does not run
            # for a failed __enter__, so nothing may stay behind from here (seen once in a clean-clone test run)
            with deferred_signals():
                if self.path != self.out:
                    shutil.rmtree(self.path, ignore_errors=True)
                _remove_created(self._created)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    with deferred_signals():
                        self._commit()
                except OSError as err:
                    if isinstance(err, OutputPathError | OutputExistsError):
                        raise
                    raise _os_problem(err, self.out, "write the output folder") from None
        finally:
            with deferred_signals():
                if self.path.exists() and self.path != self.out:
                    shutil.rmtree(self.path, ignore_errors=True)
                if exc_type is not None or not self.out.exists():
                    _remove_created(self._created)

    # -- the move into place ---------------------------------------------------------------------------------------
    @staticmethod
    def _entries(root: Path, files: list[str]) -> list[dict]:
        return [{"path": rel, "bytes": (root / rel).stat().st_size, "sha256": _sha256(root / rel)} for rel in files]

    def _manifest(self, entries: list[dict], commands: list[str]) -> str:
        from . import __version__

        data = {
            "written_by": f"facility_planner {__version__}",
            "commands": commands,
            "files": sorted(entries, key=lambda e: e["path"]),
            **({"run": self.extra} if self.extra else {}),
            "note": "Files this folder's runs wrote; `--force` replaces only these. Other files are left in place.",
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    def _commit(self) -> None:
        stage, out = self.path, self.out
        new_files = [f for f in _files_under(stage) if f != MANIFEST]
        new_entries = {e["path"]: e for e in self._entries(stage, new_files)}
        rep = self.report
        rep.written = new_files
        if not out.exists():
            (stage / MANIFEST).write_text(self._manifest(list(new_entries.values()), [self.command]), "utf-8")
            os.chmod(stage, 0o777 & ~_umask())
            try:
                os.rename(stage, out)
                return
            except OSError:
                if not out.exists():
                    raise
                (stage / MANIFEST).unlink()  # appeared meanwhile: merge below as into an existing folder
        old = read_manifest(out) or {"files": [], "commands": []}
        old_entries = {e["path"]: e for e in old["files"] if _safe_rel(e["path"])}
        present = set(_files_under(out))
        clashes = [f for f in new_files if f in present]
        if clashes and not self.force:
            raise OutputExistsError(
                f"{out} already holds {_names(clashes)}; pass --force to replace them "
                "(files not written by facility_planner are left in place)."
            )
        if self.mode == "run" and not self.force and present:
            raise OutputExistsError(_not_empty(out, present))
        blocked = [f for f in new_files if _blocked(out, f)]
        if blocked:
            raise OutputPathError(
                f"cannot write {_names(blocked)} in {out}: a file or folder of that name is in the way "
                "(a folder where a file goes, or a file where a folder goes); move it away and run again."
            )
        # a manifest that already covers every file this commit may leave behind, in case it is cut short (SIGKILL)
        pending = {**old_entries, **new_entries}
        commands = [*old.get("commands", []), self.command] if self.mode == "update" else [self.command]
        _replace_text(out / MANIFEST, self._manifest(list(pending.values()), commands))
        for rel in new_files:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in present:
                rep.replaced.append(rel)
            os.replace(stage / rel, target)
        final = dict(new_entries)
        if self.mode == "update":
            final = {**old_entries, **new_entries}
        else:
            for rel, entry in sorted(old_entries.items()):
                if rel in new_entries:
                    continue
                p = out / rel
                if not p.is_file():
                    continue
                if p.stat().st_size == entry.get("bytes") and _sha256(p) == entry.get("sha256"):
                    p.unlink()
                    rep.removed.append(rel)
                    _prune_empty_dirs(p.parent, out)
                else:
                    rep.kept_edited.append(rel)
        _replace_text(out / MANIFEST, self._manifest(list(final.values()), commands))
        ours = set(final) | {MANIFEST}
        rep.kept = [f for f in _files_under(out) if f not in ours and f not in rep.kept_edited]


def _not_empty(out: Path, present: Iterable[str]) -> str:
    present = sorted(present)
    has_manifest = MANIFEST in present
    return (
        f"{out} is not empty ({len(present)} item(s): {_names(present)}); choose a new --out folder, or pass --force "
        + (
            f"to replace what the previous run wrote there (listed in {MANIFEST}); other files are left in place."
            if has_manifest
            else "to write the plan there; files of the same names are replaced, other files are left in place."
        )
    )


def _blocked(out: Path, rel: str) -> bool:
    target = out / rel
    if target.is_dir():
        return True
    p = target.parent
    while p != out:
        if p.exists() and not p.is_dir():
            return True
        p = p.parent
    return False


def _prune_empty_dirs(d: Path, stop: Path) -> None:
    while d != stop and d.is_dir():
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(_temp_name(path.name))
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_output_dir(out: str | Path, *, force: bool, mode: str = "run", expect: Iterable[str] = ()) -> Path:
    """Refuse an output folder early: a file in its place, a parent that cannot be written, or (without ``force``)
    a non-empty folder (``mode="run"``) or existing files among ``expect`` (``mode="update"``).

    Raises
    ------
    OutputExistsError
        The folder is not empty and ``force`` is False (the message says what ``--force`` would and would not touch).
    OutputPathError
        ``out`` is a file, or its parent is a file or read-only, or the folder cannot be listed.
    """
    p = _check_path_text(Path(out))
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{p} is a file, not a folder; choose another --out (a folder for the outputs).")
    if p.is_dir():
        try:  # the top level is enough to know whether the folder is empty (--out ~ must not walk a home folder)
            present = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(p) if _TMP_TAG not in e.name)
        except OSError as exc:
            raise _os_problem(exc, p, "read the output folder") from None
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputPathError(
                f"cannot write in {p}: the folder is read-only for this user; choose another --out or change its "
                "permissions."
            )
        if not force:
            if mode == "run" and present:
                raise OutputExistsError(_not_empty(p, present))
            clash = [e for e in expect if (p / e).exists()]
            if mode == "update" and clash:
                raise OutputExistsError(
                    f"{p} already holds {_names(clash)}; pass --force to replace them (other files stay)."
                )
        return p
    base = _nearest_existing(p.parent)
    if not base.is_dir():
        raise OutputPathError(f"cannot write {p}: {base} is a file, not a folder; choose another --out.")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write {p}: the folder {base} is read-only for this user; choose another --out or change the "
            "folder's permissions."
        )
    return p


__all__ = [
    "MANIFEST",
    "OutputDir",
    "OutputReport",
    "atomic_write_text",
    "check_output_dir",
    "check_output_file",
    "command_line",
    "read_manifest",
    "reproducible_gpkg",
    "staged_output_file",
    "write_output_file",
]
