"""Families planned at once, and the models that must run alone.

A scenario run plans two families at once in threads (:func:`facility_planner.pipeline.run_scenario`). That is free
for a model that ends when its gap is proven: it ends with the same plan, sooner. It is not free for a model that uses
its whole time limit (the large maximal covering, greedy + region and window search bounded by the Lagrangian): its
plan and bound are what it did in that time, and a family beside it takes half the interpreter (measured: the
citywide stations' gap 2.3% alone, 3.5-4.1% beside another family). Such a model runs :func:`alone`: it waits until
no other family is at work, and no family starts until it is done. Its wait is before its clock starts.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Gate:
    """How many families are at work, and whether one runs alone (a readers-writer lock that favours the writer)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._working = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def working(self) -> Iterator[None]:
        """A family at work for the block: it waits while a model runs alone, or waits to."""
        with self._cond:
            while self._alone or self._waiting_alone:
                self._cond.wait()
            self._working += 1
        try:
            yield
        finally:
            with self._cond:
                self._working -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        """From within :meth:`working`: the block runs once no other family is at work, and none starts meanwhile."""
        with self._cond:
            self._working -= 1  # this family's own share, given back while it waits
            self._waiting_alone += 1
            self._cond.notify_all()
            while self._alone or self._working:
                self._cond.wait()
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._working += 1
                self._cond.notify_all()


_GATE: contextvars.ContextVar[Gate | None] = contextvars.ContextVar("_GATE", default=None)


@contextmanager
def working(gate: Gate) -> Iterator[None]:
    """Run the block as one family at work under ``gate`` (and make :func:`alone` in it use that gate)."""
    token = _GATE.set(gate)
    try:
        with gate.working():
            yield
    finally:
        _GATE.reset(token)


@contextmanager
def alone() -> Iterator[None]:
    """The block runs with no other family at work (nothing to wait for when families are planned one at a time)."""
    gate = _GATE.get()
    if gate is None:
        yield
        return
    with gate.alone():
        yield
