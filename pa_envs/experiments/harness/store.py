"""The harness's results store: a JSON-lines file that survives damage and is shared.

Each finished run is one line (its result, with ``"key"`` and ``"spec"``). A harness takes a
run by appending a claim (``{"claimed": key, "pid": ..., "host": ...}``) to a sidecar file
``<results>.claims`` and gives it back, if the run fails, with ``{"released": key, ...}``.
Every read and append happens under an exclusive lock (:func:`fcntl.flock` on a sidecar
file ``<results>.lock``), so harnesses
started on one file share its runs: each run is claimed, and run, once. A claim whose
process has died (same host, pid gone, or the pid now another process's: its start time
differs) is taken over. A ``released`` line gives a claim back only if it names the
claimant (same ``pid`` and ``host``, and ``started`` if both record one).

A claim from another host cannot be checked, so it counts as alive until released; a
harness waiting for it says so (``pid@host``) every minute. To clear one whose harness is
known to be gone, append its release to ``<results>.claims`` (one line, with the claim's
own ``pid`` and ``host``)::

    {"released": "<key>", "pid": <pid>, "host": "<host>"}

A damaged line (half written, garbage, ``{}``, a row without ``"key"``) is skipped and
reported as ``file:line``; nothing already written is ever rewritten: records are only
appended (after a newline, when a crash left the last line half written).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: one harness per file there
    fcntl = None  # type: ignore[assignment]

HOST = socket.gethostname()


@dataclasses.dataclass(frozen=True)
class Claim:
    """Who is running a run: a process on a host (``started``: its start time, where the OS
    says it, so that a new process that got a dead one's pid does not hold its runs)."""

    pid: int
    host: str
    started: int | None = None

    @property
    def alive(self) -> bool:
        """Whether the claiming process still runs (a claim from another host is taken to)."""
        if self.host != HOST:
            return True
        if not pid_alive(self.pid):
            return False
        return self.started is None or start_time(self.pid) in (None, self.started)

    @property
    def mine(self) -> bool:
        return self.host == HOST and self.pid == os.getpid()

    def released_by(self, record: dict[str, Any]) -> bool:
        """Whether a ``released`` record gives this claim back: one written by the claimant
        (same pid and host, and same start time where both record one), not by another
        process that once held, or never held, the run."""
        started = record.get("started")
        return (
            record.get("pid") == self.pid
            and str(record.get("host", "")) == self.host
            and (self.started is None or not isinstance(started, int) or started == self.started)
        )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:  # a zombie (exited, not yet reaped) runs nothing
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc; ``None`` elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@dataclasses.dataclass
class Contents:
    """What a results file holds.

    Attributes
    ----------
    rows : dict
        Finished runs by key (the first row of a key, if a key was written twice).
    claims : dict
        Runs claimed and neither finished nor released, by key.
    damaged : list of str
        ``"file:line: what is wrong"`` for every line skipped.
    """

    rows: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    claims: dict[str, Claim] = dataclasses.field(default_factory=dict)
    damaged: list[str] = dataclasses.field(default_factory=list)


def _problem(record: Any) -> str | None:
    """Why a parsed line is not a record of the store (``None`` if it is one)."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    if "claimed" in record or "released" in record:
        key = record.get("claimed", record.get("released"))
        if not isinstance(key, str) or not isinstance(record.get("pid"), int):
            return "a claim without a key or a pid"
        return None
    if not isinstance(record.get("key"), str):
        return "a row without 'key'"
    if not isinstance(record.get("spec"), dict):
        return "a row without 'spec'"
    return None


def _records(path: Path, found: Contents) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file (a missing one has none); damaged lines noted in ``found``."""
    if not path.exists():
        return
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                ending = "" if raw.endswith(b"\n") else "; the last line, half written"
                found.damaged.append(f"{path}:{number}: not JSON ({error}{ending})")
                continue
            problem = _problem(record)
            if problem is not None:
                found.damaged.append(f"{path}:{number}: {problem}: {raw[:80].decode(errors='replace')!r}")
            else:
                yield record


def claims_path(path: str | Path) -> Path:
    """The sidecar file of a results file's claims."""
    path = Path(path)
    return path.with_name(path.name + ".claims")


def read(path: str | Path) -> Contents:
    """Read a results file and its claims, skipping and noting damaged lines."""
    path = Path(path)
    found = Contents()
    for record in _records(path, found):
        if "key" in record:
            found.rows.setdefault(record["key"], record)
    for record in _records(claims_path(path), found):
        if "claimed" in record:
            started = record.get("started")
            found.claims[record["claimed"]] = Claim(
                record["pid"], str(record.get("host", "")), started if isinstance(started, int) else None
            )
        elif "released" in record:
            holder = found.claims.get(record["released"])
            if holder is not None and holder.released_by(record):
                del found.claims[record["released"]]
    for key in found.rows:
        found.claims.pop(key, None)
    return found


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The finished runs in a results file (damaged lines skipped: :func:`read` says which)."""
    return list(read(path).rows.values())


class Store:
    """A results file shared by the harnesses that run a grid on it (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.reported: set[str] = set()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (released by the OS if this process dies)."""
        with self.lock_path.open("a") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> Contents:
        """The file's contents (call under :meth:`locked` to act on them); damaged lines
        are reported on stderr the first time they are seen."""
        found = read(self.path)
        for line in found.damaged:
            if line not in self.reported:
                self.reported.add(line)
                print(f"warning: skipped a damaged line of the results: {line}", file=sys.stderr, flush=True)
        return found

    def _append(self, record: dict[str, Any], path: Path | None = None) -> None:
        """Append one record to the results (or ``path``; call under :meth:`locked`)."""
        self._append_all([record], path)

    def _append_all(self, records: list[dict[str, Any]], path: Path | None = None) -> None:
        """Append records to the results (or ``path``; call under :meth:`locked`): each on a line
        of its own, after a half-written last line too, and on disk before the lock is released."""
        with (path or self.path).open("ab+") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                ends_cleanly = f.read(1) == b"\n"
            else:
                ends_cleanly = True
            lines = b"".join(json.dumps(record).encode() + b"\n" for record in records)
            f.write((b"" if ends_cleanly else b"\n") + lines)
            f.flush()
            os.fsync(f.fileno())

    def _mine(self, key: str, what: str = "claimed") -> dict[str, Any]:
        """A claim (or release) of ``key`` by this process."""
        return {what: key, "pid": os.getpid(), "host": HOST, "started": start_time(os.getpid())}

    def claim(self, keys: list[str]) -> tuple[str | None, Contents]:
        """Claim the first of ``keys`` that is neither finished nor claimed by a live process;
        returns it (``None`` if there is none) and the file's contents."""
        claimed, found = self.claim_with(keys, lambda key: [key])
        return (claimed[0] if claimed else None), found

    def claim_with(
        self,
        keys: list[str],
        companions: Callable[[str], Sequence[str]],
        most: Callable[[str], int] | None = None,
    ) -> tuple[list[str], Contents]:
        """Claim, at once, the first of ``keys`` that is neither finished nor claimed by a live
        process and those of ``companions(first)`` that are not either (a batch of runs: what
        this harness can claim of it), ``most(first)`` runs at most (the first included; the
        free ones, in order: a run someone else holds leaves room for the next); returns the
        keys claimed, the first first (``[]`` if none), and the file's contents."""
        with self.locked():
            found = self.read()

            def free(key: str) -> bool:
                holder = found.claims.get(key)
                return key not in found.rows and (holder is None or not holder.alive or holder.mine)

            first = next((key for key in keys if free(key)), None)
            if first is None:
                return [], found
            others = [key for key in dict.fromkeys(companions(first)) if key != first and free(key)]
            claimed = [first, *others][: None if most is None else max(1, most(first))]
            self._append_all([self._mine(key) for key in claimed], claims_path(self.path))
            return claimed, found

    def finish(self, row: dict[str, Any]) -> None:
        """Record a finished run."""
        with self.locked():
            self._append(row)

    def release(self, key: str) -> None:
        """Give a claimed run back (it failed here): another harness may run it."""
        self.release_all([key])

    def release_all(self, keys: Sequence[str]) -> None:
        """Give claimed runs back (they failed, or were stopped, here), in one write."""
        if keys:
            with self.locked():
                self._append_all([self._mine(key, "released") for key in keys], claims_path(self.path))
