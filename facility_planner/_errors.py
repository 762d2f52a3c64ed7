"""The small family of exceptions facility_planner raises.

Every error a user can cause is a :class:`FacilityPlannerError`. Validation errors list *every* problem found
in one message, each with how to fix it, so a planner fixes a file once rather than once per problem.
"""

from __future__ import annotations

from collections.abc import Iterable


class FacilityPlannerError(Exception):
    """Base class of every error raised on purpose by facility_planner."""


class ValidationError(FacilityPlannerError, ValueError):
    """Input data that cannot be used as given; the message lists every problem found.

    Parameters
    ----------
    what
        The input at fault, as the user knows it (a file name, a scenario key, a function argument).
    problems
        One line per problem, each saying what is wrong and how to fix it.
    """

    def __init__(self, what: str, problems: Iterable[str]) -> None:
        self.what = what
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{what}: {n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, 1)]
        super().__init__("\n".join(lines))


class ScenarioError(ValidationError):
    """A scenario file that does not validate.

    Parameters
    ----------
    what
        The scenario file or block.
    problems
        One line per problem (block, key, what is wrong, how to fix it).
    """


class InfeasibleModelError(FacilityPlannerError, RuntimeError):
    """A model whose constraints cannot all be met.

    Parameters
    ----------
    message
        What could not be planned.
    reasons
        Which units or constraints make it infeasible, and why, one line each.
    """

    def __init__(self, message: str, reasons: Iterable[str] = ()) -> None:
        self.reasons = list(reasons)
        text = message
        if self.reasons:
            text += "\n" + "\n".join(f"  - {r}" for r in self.reasons)
        super().__init__(text)


class SolverError(FacilityPlannerError, RuntimeError):
    """The solver failed or is not available."""


class OutputExistsError(FacilityPlannerError, FileExistsError):
    """Refusing to overwrite existing output."""


class OutputPathError(FacilityPlannerError, OSError):
    """An output path that cannot be written: a file where a folder goes, a read-only or missing folder."""

    def __str__(self) -> str:  # OSError would format (errno, strerror); the message alone says what to do
        return str(self.args[0]) if self.args else ""
