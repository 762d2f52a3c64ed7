"""numpydoc validation of the public API (``make docs``, part of ``make test``).

The public API is what a user imports: the names ``facility_planner`` exports (lazily), its errors and
``facility_planner.models.__all__``. Each docstring is checked by :func:`numpydoc.validate.validate`; the checks
to run and to skip are ``[tool.numpydoc_validation]`` in ``pyproject.toml`` (shared with numpydoc's pre-commit
hook). Exit status 1 and one line per finding when any docstring breaks a rule.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from numpydoc.validate import validate

ROOT = Path(__file__).resolve().parents[1]


def public_api() -> list[str]:
    """Import paths of every public object, sorted."""
    import facility_planner
    import facility_planner.models as models

    names = [f"facility_planner.{n}" for n in facility_planner._LAZY]
    names += [f"facility_planner.{n}" for n in dir(facility_planner) if n.endswith("Error")]
    names += [f"facility_planner.models.{n}" for n in models.__all__]
    return sorted(set(names))


def excluded() -> list[re.Pattern[str]]:
    """The ``exclude`` patterns of pyproject: objects not checked yet (a list to shrink)."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["numpydoc_validation"]
    return [re.compile(p) for p in conf.get("exclude", [])]


def selected_checks() -> set[str]:
    """The check codes to run: ``checks`` from pyproject (``all`` then exclusions, as numpydoc's hook reads it)."""
    from numpydoc.validate import ERROR_MSGS

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["numpydoc_validation"]
    checks = list(conf["checks"])
    if checks and checks[0] == "all":
        return set(ERROR_MSGS) - set(checks[1:])
    return set(checks)


def main() -> int:
    """Validate every public docstring; print the findings; 0 when there are none."""
    checks = selected_checks()
    findings = []
    skip = excluded()
    for name in public_api():
        if any(p.search(name) for p in skip):
            continue
        for code, message in validate(name)["errors"]:
            if code in checks:
                findings.append(f"{name}: {code} {message}")
    for line in findings:
        print(line)
    print(f"numpydoc: {len(public_api())} public objects, {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
