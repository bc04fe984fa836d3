"""File operations on local paths and URLs alike: the one file layer of the package.

Every stage reads and writes through these functions, so that any input or output path may be
a URL that TensorFlow's file systems understand (`gs://bucket/x`, `s3://`, `hdfs://` where their
plugins are installed, `ram://` in tests). A URL goes through `tf.io.gfile` (TensorFlow is
imported on the first URL only); a local path goes through `os`, `open` and `shutil`, which is
what `tf.io.gfile` does for it too, without importing TensorFlow (a bad config fails before
TensorFlow is imported). Which schemes are accepted is decided in `storage.check_path`.

Object stores have no directories and no atomic rename of a directory: `rename` here renames
one file (on Cloud Storage a copy then a delete, the new object appearing whole), and a
directory exists on a URL while some file lies under it. How a set of files is published
whole on a URL is said in `atomic_files`.
"""

from __future__ import annotations

import glob as glob_lib
import io
import os
import shutil
from typing import IO, Iterator

from albert_keras.utils.storage import file_systems, url_scheme


def is_url(path: str) -> bool:
    """Whether `path` has a scheme (`gs://`, `ram://`, `file://`): read through `tf.io.gfile`."""
    return url_scheme(os.fspath(path)) is not None


def _gfile():
    return file_systems()  # Deferred: only URLs import TensorFlow.


def exists(path: str) -> bool:
    """Whether a file or directory is at `path`."""
    return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    """Whether `path` is a directory (on an object store: some file lies under it)."""
    return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def isfile(path: str) -> bool:
    """Whether `path` is a file."""
    if is_url(path):
        return _gfile().exists(path) and not _gfile().isdir(path)
    return os.path.isfile(path)


def makedirs(path: str) -> None:
    """Makes the directory `path` and its parents; an existing one (or `""`, the working
    directory) is fine."""
    if not path:
        return
    if is_url(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def listdir(path: str) -> list[str]:
    """The sorted names in the directory `path` (without a trailing `/`)."""
    if is_url(path):
        return sorted(_real(path, [name.rstrip("/") for name in _gfile().listdir(path)]))
    return sorted(os.listdir(path))


def _real(directory: str, names: list[str]) -> list[str]:
    """`names` listed in `directory` that are there. TensorFlow's `ram://` lists by bare
    prefix: beside `assets.extra/x`, `assets` seems to hold `.extra`."""
    if url_scheme(directory) != "ram":
        return names
    return [name for name in names if _gfile().exists(os.path.join(directory, name))]


def glob(pattern: str) -> list[str]:
    """The sorted paths that the glob `pattern` matches (`~` expanded in local patterns)."""
    if is_url(pattern):
        return sorted(_gfile().glob(pattern))
    return sorted(glob_lib.glob(os.path.expanduser(pattern)))


def walk(path: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """`(directory, folder names, file names)` for `path` and every directory under it."""
    if is_url(path):
        for directory, folders, files in _gfile().walk(path):
            yield directory, [f.rstrip("/") for f in folders], _real(directory, list(files))
    else:
        yield from os.walk(path)


def size(path: str) -> int:
    """Bytes of the file at `path`."""
    return _gfile().stat(path).length if is_url(path) else os.path.getsize(path)


def remove(path: str) -> None:
    """Removes the file or the whole directory at `path`; nothing there is fine."""
    if is_url(path):
        gfile = _gfile()
        if gfile.isdir(path):
            _rmtree(path)
        elif gfile.exists(path):
            gfile.remove(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _rmtree(path: str) -> None:
    import tensorflow as tf

    try:
        _gfile().rmtree(path)
    except tf.errors.NotFoundError:
        if url_scheme(path) != "ram":
            raise
        # `ram://` lists by bare prefix (`_real`) and then fails on names it listed: remove the
        # files that are there; the empty folders left are entries of nothing.
        for directory, _, names in list(walk(path)):
            for name in names:
                _gfile().remove(os.path.join(directory, name))


def rename(source: str, destination: str) -> None:
    """Renames the file `source` to `destination`, replacing a file there (local paths: an
    atomic `os.replace`, directories too)."""
    if is_url(source) or is_url(destination):
        _gfile().rename(source, destination, overwrite=True)
    else:
        os.replace(source, destination)


def copy(source: str, destination: str) -> None:
    """Copies the file `source` to `destination`, replacing a file there."""
    if is_url(source) or is_url(destination):
        _gfile().copy(source, destination, overwrite=True)
    else:
        shutil.copyfile(source, destination)


def copy_tree(source: str, destination: str) -> None:
    """Copies the directory `source` (every file under it) into `destination`."""
    for directory, _, files in walk(source):
        relative = os.path.relpath(directory, source) if directory != source else ""
        target = os.path.join(destination, relative) if relative else destination
        makedirs(target)
        for name in files:
            copy(os.path.join(directory, name), os.path.join(target, name))


def open_file(path: str, mode: str = "r") -> IO:
    """The file at `path`, opened (`"r"`, `"rb"`, `"w"`, `"wb"`, `"a"`); text is UTF-8.

    Writing to a URL makes its folder first: some file systems (HDFS, `ram://`) list a file
    only under a folder that was made."""
    if is_url(path):
        if mode[0] in "wa":
            makedirs(os.path.dirname(path))
        return _gfile().GFile(path, mode)
    return open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))


def open_text(path: str, encoding: str = "utf-8", newline: str | None = None) -> IO[str]:
    """The file at `path` opened for reading text as `open(path, encoding=..., newline=...)`
    does (a URL is read whole first: labelled files and configs, not corpora)."""
    if is_url(path):
        return io.StringIO(read_bytes(path).decode(encoding), newline=newline)
    return open(path, encoding=encoding, newline=newline)


def read_bytes(path: str) -> bytes:
    """The bytes of the file at `path`. A file that cannot be read raises `OSError` for URLs
    too (`FileNotFoundError` when it is not there), as `open` does for local paths."""
    if not is_url(path):
        with open(path, "rb") as f:
            return f.read()
    import tensorflow as tf

    try:
        with open_file(path, "rb") as f:
            return f.read()
    except tf.errors.NotFoundError as error:
        raise FileNotFoundError(f"No such file: {path!r} ({error.message})") from error
    except tf.errors.OpError as error:
        raise OSError(f"Cannot read {path!r}: {error.message}") from error


def read_text(path: str) -> str:
    """The text (UTF-8) of the file at `path`; a `UnicodeDecodeError` for other bytes."""
    return read_bytes(path).decode("utf-8")


def write_bytes(path: str, data: bytes) -> None:
    """Writes `data` as the file `path` (not atomically: see `atomic_files`)."""
    with open_file(path, "wb") as f:
        f.write(data)


def write_text(path: str, text: str) -> None:
    """Writes `text` (UTF-8) as the file `path` (not atomically: see `atomic_files`)."""
    write_bytes(path, text.encode("utf-8"))


def absolute(path: str) -> str:
    """`os.path.abspath` of a local path; a URL as it is."""
    return path if is_url(path) else os.path.abspath(path)
