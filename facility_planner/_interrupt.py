"""Stopping a run cleanly: Ctrl-C and SIGTERM become an exception that unwinds (and cleans up) like any other.

Three pieces:

* :func:`handle_signals` (used by the CLI) makes SIGINT *and* SIGTERM raise :class:`Interrupted`, a
  ``KeyboardInterrupt``, so ``finally`` blocks run and temporary folders are removed. It installs its handlers even
  when SIGINT was ignored on entry: a shell starts background jobs (``cmd &``) with SIGINT ignored, which is why
  ``kill -INT`` used to leave a run going to the end.
* :func:`run_highs` solves a HiGHS model in a worker thread (highspy releases the GIL while it solves) so the main
  thread keeps handling signals; on an interrupt it asks HiGHS to stop through its interrupt callbacks, waits briefly
  for it, and re-raises. A plain ``Highs.run()`` on the main thread would hold every signal until the solver returned
  (up to the scenario's time limit).
* :class:`RunStop` lets a run that works in threads (families planned two at a time) stop them: the main thread sets
  it on an interrupt, each worker's HiGHS solve is interrupted through the same callbacks, no new solve starts, and
  the main thread waits until no worker is inside HiGHS before it re-raises (a process must not exit under a running
  solve). A worker's threads of its own see it when started in a copy of its context
  (``contextvars.copy_context().run``).
* :func:`deferred_signals` holds a signal back during a few lines that must not be cut in half (renaming finished
  files into place, removing a temporary folder) and re-delivers it afterwards.
"""

from __future__ import annotations

import contextvars
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_NAMES: dict[int, str] = {int(signal.SIGINT): "Ctrl-C (SIGINT)", int(signal.SIGTERM): "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGINT or SIGTERM under :func:`handle_signals`."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        super().__init__(_NAMES.get(self.signum, f"signal {self.signum}"))

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


def exit_code_of(exc: BaseException) -> int:
    """Exit code for an interrupt: 128 + signal number; 130 for a bare ``KeyboardInterrupt``."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + int(signal.SIGINT)


def describe(exc: BaseException) -> str:
    """``"Ctrl-C (SIGINT)"`` or ``"SIGTERM"``: what stopped the run, for a one-line message."""
    return _NAMES.get(exc.signum, f"signal {exc.signum}") if isinstance(exc, Interrupted) else _NAMES[signal.SIGINT]


def _raise(signum: int, _frame) -> None:
    raise Interrupted(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread; handlers restored after.

    Does nothing outside the main thread (Python only lets the main thread set handlers).
    """
    if not _in_main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back during the block and deliver them when it ends (nested blocks defer to the outer).

    The held signal is re-delivered through the handler that was in place before the block, so a CLI run still stops
    with :class:`Interrupted`, a notebook gets its ``KeyboardInterrupt``, and a default SIGTERM still ends the process
    — after the block, never in the middle of it.
    """
    if not _in_main_thread() or getattr(_state, "deferring", False):
        yield
        return
    pending: list[int] = []
    old = {int(s): signal.getsignal(s) for s in _SIGNALS}  # by number: what a handler receives

    def hold(signum: int, _frame) -> None:
        pending.append(signum)

    _state.deferring = True
    for s in _SIGNALS:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for signum, h in old.items():
            signal.signal(signum, h if h is not None else signal.SIG_DFL)
        _state.deferring = False
        if pending:
            signum = pending[0]
            handler = old[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


class _State(threading.local):
    deferring = False


_state = _State()


class RunStop:
    """The stop of one run's worker threads: set by the main thread on an interrupt, read by their HiGHS solves."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._busy = 0  # solves running in workers
        self._cond = threading.Condition()

    def set(self) -> None:
        """Ask every worker of the run to stop: solves running are interrupted, new ones refused."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether the run was asked to stop."""
        return self._event.is_set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no worker is inside HiGHS (True), or ``timeout_s`` passes (False)."""
        end = time.monotonic() + timeout_s
        with self._cond:
            while self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    @contextmanager
    def solving(self) -> Iterator[None]:
        """Count a worker's solve as running for the block; refuse it when the run was asked to stop."""
        with self._cond:
            if self._event.is_set():
                raise Interrupted()
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def start(self, target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
        """A daemon thread running ``target(*args)`` under this stop (its HiGHS solves in :func:`run_highs`), started."""
        context = contextvars.copy_context()

        def work() -> None:
            _RUN_STOP.set(self)
            target(*args)

        t = threading.Thread(target=context.run, args=(work,), name=name, daemon=True)
        t.start()
        return t


_RUN_STOP: contextvars.ContextVar[RunStop | None] = contextvars.ContextVar("_RUN_STOP", default=None)


def run_highs(h, *, grace_s: float = 5.0):
    """``h.run()`` for a ``highspy.Highs`` model, stopped promptly by Ctrl-C/SIGTERM.

    The solve runs in a worker thread while the main thread waits in short steps (so Python's signal handlers run).
    On an interrupt the worker is told to stop through HiGHS's interrupt callbacks (simplex, IPM and MIP), given up to
    ``grace_s`` seconds to return, and the interrupt is re-raised. In a worker thread of a run (:class:`RunStop`) the
    solve runs in place and is stopped, then raises, when the run is asked to stop; in any other thread this is plain
    ``h.run()``.

    Returns
    -------
    highspy.HighsStatus
        What ``h.run()`` returned.
    """
    if not _in_main_thread():
        run_stop = _RUN_STOP.get()
        if run_stop is None:
            return h.run()
        with run_stop.solving(), _interrupted_when(h, run_stop.is_set):
            status = h.run()
        if run_stop.is_set():
            raise Interrupted()
        return status
    stop = threading.Event()
    result: dict = {}
    # The main thread waits on this event, not on ``Thread.join``: a join cut short by the signal's exception can
    # mark a still-running thread as finished (CPython 3.11's ``_wait_for_tstate_lock``, bpo-45274), so the grace
    # join returned at once and the interpreter exited under a running solve ("terminate called without an active
    # exception", SIGABRT) in about 1 run in 10 on a busy machine.
    done = threading.Event()

    def work() -> None:
        try:
            result["status"] = h.run()
        except BaseException as exc:  # re-raised in the main thread
            result["error"] = exc
        finally:
            _reset_thread_scheduler()
            done.set()

    with _interrupted_when(h, stop.is_set):
        worker = threading.Thread(target=work, name="highs-solve", daemon=True)
        worker.start()
        try:
            while not done.wait(0.05):
                pass
        except BaseException:
            stop.set()
            with deferred_signals():
                if done.wait(grace_s):
                    worker.join(1.0)  # signals are held here, so this join runs to its end
            raise
    if "error" in result:
        raise result["error"]
    return result["status"]


@contextmanager
def _interrupted_when(h, should_stop: Callable[[], bool]) -> Iterator[None]:
    """Within the block, HiGHS's interrupt checks (simplex, IPM and MIP) stop ``h`` once ``should_stop()`` is true."""

    def on_interrupt_check(event) -> None:
        if should_stop():
            event.interrupt()

    found = [getattr(h, n, None) for n in ("cbSimplexInterrupt", "cbIpmInterrupt", "cbMipInterrupt")]
    hooks = [c for c in found if c is not None and hasattr(c, "subscribe")]
    for c in hooks:
        c.subscribe(on_interrupt_check)
    try:
        yield
    finally:
        for c in hooks:
            c.unsubscribe(on_interrupt_check)


def _reset_thread_scheduler() -> None:
    """Release the worker thread's HiGHS task scheduler, as highspy's own threaded ``solve`` does."""
    try:
        from highspy._core import _Highs

        _Highs.resetThreadScheduler(False)
    except Exception:  # pragma: no cover - older or newer highspy without it: nothing to release
        pass
