"""Atomic writes: a file or directory that a later step reads is either the old one or the new
one, never half of either.

Each write goes to a temporary name beside the target (same directory, so same file system),
is flushed to disk (`fsync`), then renamed over the target (`os.replace`, atomic on POSIX);
the directory entry is flushed too. A kill at any point leaves the previous target untouched
and at most a temporary file that the next write of the same target removes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from typing import Any, Callable

TEMPORARY_MARK = ".partial-"


def temporary_path(path: str, suffix: str = "") -> str:
    """A name beside `path` for its next version, unique to this process."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f"{TEMPORARY_MARK}{name}.{os.getpid()}{suffix}")


def write_atomic(path: str, write: Callable[[str], Any], suffix: str = "") -> str:
    """Calls `write(temporary_path)`, makes it durable and renames it to `path`.

    `write` may create a file or a directory. `suffix` is added to the temporary name for
    writers that check the extension (Keras wants `.keras`). Returns `path`.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    remove_stale_temporaries(path)
    temporary = temporary_path(path, suffix)
    try:
        write(temporary)
        fsync_tree(temporary)
        if os.path.isdir(path) and os.path.isdir(temporary):
            old = temporary_path(path, ".old")
            os.replace(path, old)  # Directories cannot be renamed over one another.
            os.replace(temporary, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temporary, path)
        fsync_directory(os.path.dirname(os.path.abspath(path)))
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.exists(temporary):
            os.remove(temporary)
    return path


def write_text_atomic(path: str, text: str) -> str:
    """Writes `text` (UTF-8) to `path` atomically."""
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
    return write_atomic(path, write)


def write_json_atomic(path: str, value: Any, indent: int = 2) -> str:
    """Writes `value` as JSON to `path` atomically."""
    return write_text_atomic(path, json.dumps(value, indent=indent) + "\n")


def save_model_atomic(model, path: str) -> str:
    """`model.save(path)` (a `.keras` file) atomically."""
    return write_atomic(path, model.save, suffix=".keras")


def remove_stale_temporaries(path: str) -> list[str]:
    """Removes temporaries of `path` left by killed writers (their process is gone, or it is
    this one); returns what it removed. A live writer's temporary stays."""
    directory, name = os.path.split(os.path.abspath(path))
    removed = []
    if not os.path.isdir(directory):
        return removed
    owner = re.compile(re.escape(f"{TEMPORARY_MARK}{name}.") + r"(\d+)")
    for entry in os.listdir(directory):
        match = owner.match(entry)
        if match and not process_alive(int(match.group(1))):
            stale = os.path.join(directory, entry)
            shutil.rmtree(stale) if os.path.isdir(stale) else os.remove(stale)
            removed.append(stale)
    return removed


def file_sha256(path: str) -> str | None:
    """SHA-256 of a local file's bytes, or None when `path` is not a local file."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def process_alive(pid: int) -> bool:
    """Whether another process with this id runs on this machine (False for this process)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process.
        return True
    return True


def fsync_tree(path: str) -> None:
    """Flushes a file, or every file and directory of a tree, to disk."""
    if os.path.isdir(path):
        for root, _, files in os.walk(path):
            for name in files:
                _fsync_file(os.path.join(root, name))
            fsync_directory(root)
    else:
        _fsync_file(path)


def _fsync_file(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_directory(path: str) -> None:
    """Flushes a directory's entries (new names, renames) to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
