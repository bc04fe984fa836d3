"""Atomic writes: a file or directory that a later step reads is either the old one or the new
one, never half of either.

Each write goes to a temporary name beside the target (same directory, so same file system),
is flushed to disk (`fsync`), then renamed over the target (`os.replace`, atomic on POSIX);
the directory entry is flushed too. A kill at any point leaves the previous target untouched
and at most a temporary file that the next write of the same target removes.

On a URL (`gs://`, `ram://`, ...; see `file_io`) there is no atomic rename of a directory and
no process id to tell a dead writer's temporary from a live one's. The rule there:
- a file is written under a temporary name beside the target and renamed over it (on an
  object store the new object appears whole);
- a directory is written whole under a temporary name beside the target, then published by
  its `last` files (a record set's `manifest.json`, a backup's metadata): those are removed
  from the target first (the old set is unpublished), then the rest of the target, then the
  new files are moved in, the `last` ones last. A reader that requires the `last` file never
  takes a half-written set: a kill leaves it without one, and the next write replaces it;
- temporaries of killed writers are not removed (whose they are cannot be told); readers never
  look at them (their names start with `.partial-`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from typing import Any, Callable, Sequence

from albert_keras.utils import file_io

TEMPORARY_MARK = ".partial-"


def temporary_path(path: str, suffix: str = "") -> str:
    """A name beside `path` for its next version, unique to this process (and on a URL, where
    processes of many machines write, unique to this call)."""
    directory, name = os.path.split(file_io.absolute(path).rstrip("/"))
    unique = f"{os.getpid()}.{uuid.uuid4().hex[:12]}" if file_io.is_url(path) else os.getpid()
    return os.path.join(directory, f"{TEMPORARY_MARK}{name}.{unique}{suffix}")


def write_atomic(path: str, write: Callable[[str], Any], suffix: str = "",
                 last: Sequence[str] = ()) -> str:
    """Calls `write(temporary_path)`, makes it durable and renames it to `path`.

    `write` may create a file or a directory. `suffix` is added to the temporary name for
    writers that check the extension (Keras wants `.keras`). `last`: the files (relative
    names) that publish a directory on a URL, moved in last (module docstring); a local
    directory is renamed whole. Returns `path`.
    """
    if file_io.is_url(path):
        return _write_url_atomic(path, write, suffix, last)
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


def _write_url_atomic(path: str, write: Callable[[str], Any], suffix: str,
                      last: Sequence[str]) -> str:
    """`write_atomic` on a URL (module docstring)."""
    path = path.rstrip("/")
    file_io.makedirs(os.path.dirname(path))
    temporary = temporary_path(path, suffix)
    try:
        write(temporary)
        if file_io.isdir(temporary):
            publish_tree(temporary, path, last)
        else:
            file_io.rename(temporary, path)
    finally:
        file_io.remove(temporary)
    return path


def publish_tree(staging: str, target: str, last: Sequence[str] = ()) -> None:
    """Replaces the directory `target` by the files of `staging` (moved, file by file): the
    `last` files of `target` are removed first and those of `staging` moved in last, so that
    `target` holds them only once the rest is whole. For URLs, where directories cannot be
    renamed in one step."""
    for name in last:
        file_io.remove(os.path.join(target, name))
    file_io.remove(target)
    rank = {name: index + 1 for index, name in enumerate(last)}  # 0: the rest, first.
    names = [os.path.relpath(os.path.join(directory, name), staging)
             for directory, _, files in file_io.walk(staging) for name in files]
    for name in sorted(names, key=lambda name: rank.get(name, 0)):
        destination = os.path.join(target, name)
        file_io.makedirs(os.path.dirname(destination))
        file_io.rename(os.path.join(staging, name), destination)


def write_text_atomic(path: str, text: str) -> str:
    """Writes `text` (UTF-8) to `path` atomically."""
    return write_atomic(path, lambda temporary: file_io.write_text(temporary, text))


def write_json_atomic(path: str, value: Any, indent: int = 2) -> str:
    """Writes `value` as JSON to `path` atomically."""
    return write_text_atomic(path, json.dumps(value, indent=indent) + "\n")


def save_model_atomic(model, path: str) -> str:
    """`model.save(path)` (a `.keras` file) atomically."""
    return write_atomic(path, model.save, suffix=".keras")


def remove_stale_temporaries(path: str) -> list[str]:
    """Removes temporaries of `path` left by killed writers (their process is gone, or it is
    this one); returns what it removed. A live writer's temporary stays. On a URL nothing is
    removed (whose a temporary is cannot be told there)."""
    directory, name = os.path.split(os.path.abspath(path))
    removed = []
    if file_io.is_url(path) or not os.path.isdir(directory):
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
    """SHA-256 of a file's bytes (local or URL), or None when `path` is not a file."""
    if not file_io.isfile(path):
        return None
    digest = hashlib.sha256()
    with file_io.open_file(path, "rb") as f:
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
