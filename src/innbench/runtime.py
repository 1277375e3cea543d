"""Process-level settings that make the CPU paths faster without changing any result."""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["DEFAULT_THREADS", "TimeLimitError", "available_memory", "check_deadline", "check_memory", "resolve_threads",
           "time_limit", "torch_threads", "tune_allocator"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_applied: bool | None = None


def tune_allocator(mmap_threshold: int = 256 << 20) -> bool:
    """Keep large temporary tensors on glibc's heap instead of fresh ``mmap`` pages.

    Sampling and Err_post allocate and free blocks of a few hundred KB to a few MB many times per
    call; above glibc's default mmap threshold each block is mapped anew and page-faulted in. Raising
    the mmap threshold (and the heap trim threshold with it) lets freed blocks be reused: measured 17–22 %
    faster sampling for the cINN, flow matching and the iResNet on one thread (numbers unchanged; the
    process keeps up to ``mmap_threshold`` more memory). Linux with glibc only; a no-op elsewhere or
    when the environment variable ``INNBENCH_MALLOPT=0``. Called by the ``innbench`` command and by the
    benchmark's cells; library users may call it themselves. Returns whether the setting applied.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("INNBENCH_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, 2 * int(mmap_threshold)) == 1
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    _applied = bool(ok)
    return _applied


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``); None where unknown.

    Example:
        >>> from innbench.runtime import available_memory
        >>> m = available_memory()
        >>> m is None or m > 0
        True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(need: float, name: str, what: str) -> None:
    """Refuse, before any work, a request whose arrays need more than 80 % of the available memory.

    Args:
        need: bytes the request's arrays need.
        name: the argument to blame in the message (e.g. ``"n"``).
        what: the request in words (e.g. ``"10 observations x 10,000,000 samples"``).

    Example:
        >>> from innbench.runtime import check_memory
        >>> check_memory(1e6, "n", "a small request")  # fits: no error
        >>> try:
        ...     check_memory(1e18, "n", "1e18 bytes")
        ... except ValueError as err:
        ...     print(str(err).split(",")[0])
        n: 1e18 bytes need about 1000000000.0 GB
    """
    avail = available_memory()
    if avail is not None and need > 0.8 * avail:
        raise ValueError(f"{name}: {what} need about {need / 1e9:.1f} GB, and {avail / 1e9:.1f} GB of memory are "
                         "available: ask for fewer at once")


class TimeLimitError(ValueError):
    """A computation ran past its time limit (:func:`time_limit`), or whoever asked for it went away.

    Example:
        >>> from innbench.runtime import TimeLimitError, check_deadline, time_limit
        >>> try:
        ...     with time_limit(0.01, "--time-limit", "the loop"):
        ...         while True:
        ...             check_deadline()
        ... except TimeLimitError as err:
        ...     print(err)
        --time-limit: the loop did not finish within 0.01 s
    """

    #: whether the computation was called off (:meth:`Deadline.cancel`) rather than out of time
    called_off: bool = False


class Deadline:
    """The limit of one :func:`time_limit` block: when it ends, and whether it was called off."""

    def __init__(self, seconds: float, name: str, what: str):
        self.seconds, self.name, self.what = float(seconds), name, what
        self.at = time.monotonic() + self.seconds
        self.reason: str | None = None  # set by cancel()
        self.parent = _deadline.get()  # an enclosing block's limit holds inside this one too

    def cancel(self, reason: str) -> None:
        """Call the computation off from another thread (e.g. its client disconnected): its next
        :func:`check_deadline` raises :class:`TimeLimitError` with ``reason``."""
        self.reason = reason

    def error(self) -> TimeLimitError:
        if self.reason is not None:
            err = TimeLimitError(f"{self.name}: {self.what} was called off: {self.reason}")
        else:
            err = TimeLimitError(f"{self.name}: {self.what} did not finish within {self.seconds:g} s")
        err.called_off = self.reason is not None
        return err

    def check(self) -> None:
        d = self
        while d is not None:
            if d.reason is not None or time.monotonic() > d.at:
                d.disarm()  # one error: the alarm must not raise a second one while this one unwinds
                raise d.error()
            d = d.parent

    #: whether this block's alarm may still raise (the main thread's outermost block only)
    armed = False

    def disarm(self) -> None:
        if self.armed:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("innbench_deadline", default=None)


def check_deadline() -> None:
    """Raise :class:`TimeLimitError` if the enclosing :func:`time_limit` has passed or was called off; a
    no-op outside one. innbench's long loops call it (training steps, sampling batches, MCMC sweeps,
    rejection ABC's chunks, reference draws), so a limit stops them within one step."""
    d = _deadline.get()
    if d is not None:
        d.check()


@contextlib.contextmanager
def time_limit(seconds: float | None, name: str = "time_limit", what: str = "the computation"):
    """Stop the block with :class:`TimeLimitError` once ``seconds`` have passed.

    innbench's own loops stop at their next :func:`check_deadline`. In the main thread of a Unix process
    an alarm signal also interrupts code that never checks (a user's simulator caught in a loop, a
    ``time.sleep``); code in C that never returns to Python cannot be interrupted. Nested blocks: the
    outer ones still hold inside inner ones (the alarm is the outermost's). Yields the :class:`Deadline`
    (``cancel(reason)`` calls the block off from another thread); ``seconds=None``: no limit.

    Arguments:
        seconds: the limit, a positive number of seconds, or None.
        name: the argument to name in the message (the CLI's ``--time-limit``).
        what: the computation in words.

    Example:
        >>> from innbench import api
        >>> from innbench.runtime import TimeLimitError, time_limit
        >>> try:
        ...     with time_limit(0.5, what="training"):
        ...         api.train("linear", "mdn", simulations=100_000)
        ... except TimeLimitError as err:
        ...     print(err)
        time_limit: training did not finish within 0.5 s
    """
    if seconds is None:
        yield None
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{name}: expected a positive, finite number of seconds, got {seconds!r}")
    d = Deadline(seconds, name, what)
    token = _deadline.set(d)
    alarm = (_deadline_alarm_free() and threading.current_thread() is threading.main_thread()
             and hasattr(signal, "setitimer") and d.seconds < 1e8)  # (beyond 3 years: no alarm needed)
    if alarm:
        def ring(signum, frame):
            if d.armed:
                d.armed = False
                raise d.error()

        previous = signal.signal(signal.SIGALRM, ring)
        d.armed = True
        signal.setitimer(signal.ITIMER_REAL, d.seconds)
        _alarm_owner.append(d)
    try:
        yield d
    finally:
        d.armed = False  # first: an alarm from now on raises nothing
        _deadline.reset(token)
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            _alarm_owner.pop()


_alarm_owner: list[Deadline] = []


def _deadline_alarm_free() -> bool:
    return not _alarm_owner


#: torch CPU threads when neither the caller nor the environment says: innbench's networks are small (10^4 to
#: 10^6 weights, batches of a few hundred), so a second thread gains little on an idle machine and, when another
#: job holds a core, costs up to 9x in waiting (measured: docs/journal/threads.md)
DEFAULT_THREADS = 1
#: environment variables that choose the thread count, in the order they are read
THREAD_VARIABLES = ("INNBENCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def resolve_threads(threads: int | None = None, name: str = "threads") -> int:
    """The torch CPU thread count to use: ``threads`` if given, else the first of ``INNBENCH_THREADS``,
    ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` that is set, else :data:`DEFAULT_THREADS`.

    Arguments:
        threads: the caller's choice (a positive integer) or None.
        name: the argument to name in an error (the CLI's ``--threads``).

    Example:
        >>> from innbench.runtime import resolve_threads
        >>> resolve_threads(3)
        3
        >>> import os
        >>> os.environ["INNBENCH_THREADS"] = "2"
        >>> resolve_threads()
        2
        >>> del os.environ["INNBENCH_THREADS"]
    """
    from . import params as P

    if threads is not None:
        return P.count(threads, name)
    for var in THREAD_VARIABLES:
        text = os.environ.get(var, "").strip()
        if text:
            try:
                return P.count(int(text), var)
            except ValueError:
                raise ValueError(f"{var}: expected a positive number of threads, got {text!r}") from None
    return DEFAULT_THREADS


@contextlib.contextmanager
def torch_threads(threads: int | None = None, name: str = "threads"):
    """Run the block with :func:`resolve_threads` torch CPU threads, and restore the process's count after.

    Example:
        >>> import torch
        >>> from innbench.runtime import torch_threads
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1) as n:
        ...     n, torch.get_num_threads()
        (1, 1)
        >>> torch.get_num_threads() == before
        True
    """
    import torch

    n = resolve_threads(threads, name)
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if n != before:
            torch.set_num_threads(before)
