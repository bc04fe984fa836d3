"""`RunLock`: one writer per place (a run directory, a records directory, an export base).

Two jobs that write the same place at once corrupt each other's files: one removes the
other's temporaries, or both publish "version 1". Each job therefore locks the places it
writes before any work, and a second writer fails at once with a message naming the holder.

The lock is `fcntl.flock` on a small file beside the place (`runs/.tiny.lock` for `runs/tiny`:
beside, because a place may be swapped whole by a rename), or inside one that never is (an
export base: `saved_models/.lock`). The file holds the holder's PID, host and command while
it is held and is removed when the lock is released; the kernel releases the lock of a killed
process, so a kill never leaves a place locked.

A place given as a URL (`gs://`, `ram://`, ...) is not locked: object stores have no lock that
the death of its holder releases, and a lock object left by a killed job would block every
retry of it. Writers of URLs rely on the publishing rule instead (`atomic_files`): a record set
or run is published by its manifest or record, written last, so no reader ever takes a
half-written one, and a retried job simply writes it again. Two jobs writing the same URL at
the same moment are not detected there: give concurrent jobs different names.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import socket
import sys
import threading

from albert_keras.utils.storage import url_scheme

_HELD: dict[str, list] = {}  # Lock file -> [descriptor, depth, folders it made]: held here.
_HELD_GUARD = threading.Lock()


class PlaceLocked(RuntimeError):
    """Another process is writing the place; the message names it and the holder."""


def lock_path(place: str, inside: bool = False) -> str:
    """The lock file of `place`: `.{name}.lock` beside it, or `.lock` inside it."""
    if inside:
        return os.path.join(os.path.abspath(place), ".lock")
    parent, name = os.path.split(os.path.abspath(place))
    return os.path.join(parent, f".{name}.lock")


class RunLock:
    """An exclusive, non-blocking lock on a place that a job writes.

    Taken again by the process that holds it, it nests (released when the outermost holder
    releases it); taken by another process, it raises `PlaceLocked` at once.

    Args:
        place: str. The directory the job writes (it need not exist yet).
        command: str. What is writing, for the message another writer gets, e.g.
            `"albert-keras pretrain"`. Defaults to this process's command line.
        inside: bool. Keep the lock file inside the place (`.lock`), for a place that is
            never replaced whole, such as an export base. Defaults to False: beside it.

    Example:
    ```python
    with RunLock("runs/tiny", "albert-keras pretrain"):
        # A second `RunLock("runs/tiny")` in another process raises PlaceLocked.
        assert os.path.isfile(lock_path("runs/tiny"))
    assert not os.path.exists(lock_path("runs/tiny"))  # Removed when released.
    ```
    """

    def __init__(self, place: str, command: str | None = None, inside: bool = False):
        self.place = os.fspath(place)
        self.remote = url_scheme(self.place) is not None  # Not locked (module docstring).
        self.path = None if self.remote else lock_path(self.place, inside)
        self.command = command or " ".join([os.path.basename(sys.argv[0] or "python"),
                                            *sys.argv[1:]])
        self._held = False

    def acquire(self) -> RunLock:
        if self.remote:
            return self
        with _HELD_GUARD:
            if self.path in _HELD:
                _HELD[self.path][1] += 1
                self._held = True
                return self
            made = _missing_folders(os.path.dirname(self.path))
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                descriptor = self._lock()
            except BaseException:
                _remove_empty(made)
                raise
            _HELD[self.path] = [descriptor, 1, made]
            self._held = True
        return self

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with _HELD_GUARD:
            entry = _HELD[self.path]
            entry[1] -= 1
            if entry[1]:
                return
            del _HELD[self.path]
            try:
                os.unlink(self.path)  # Still ours: whoever opens it next gets a new file.
            except FileNotFoundError:
                pass
            os.close(entry[0])
            _remove_empty(entry[2])  # Folders made for the lock alone (the job wrote none).

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    def _lock(self) -> int:
        while True:
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # A holder that just left removed the empty folder.
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                holder = _read_holder(descriptor)
                os.close(descriptor)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise PlaceLocked(
                    f"{self.place} is being written by another process ({holder}); one writer "
                    f"at a time. Wait for it to finish, or write elsewhere (another `name` or "
                    f"output directory). Lock file: {self.path}") from None
            try:
                same_file = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:  # Not removed by a holder that released it meanwhile.
                break
            os.close(descriptor)
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(descriptor, 0)
        os.write(descriptor, (f"pid {os.getpid()} on host {socket.gethostname()}, "
                              f"{self.command}, since {started}\n").encode())
        return descriptor


def _missing_folders(directory: str) -> list[str]:
    """`directory` and its parents that do not exist yet, deepest first."""
    missing = []
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        missing.append(directory)
        directory = os.path.dirname(directory)
    return missing


def _remove_empty(folders: list[str]) -> None:
    for folder in folders:  # Deepest first; stops at the first one the job filled.
        try:
            os.rmdir(folder)
        except OSError:
            return


def _read_holder(descriptor: int) -> str:
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "holder unknown: it is starting"
