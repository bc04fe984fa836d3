"""Which paths the file layer handles: local ones and URLs of an installed file system.

Paths are read and written through `file_io`, which hands URLs to TensorFlow's file systems
(`tf.io.gfile`): `gs://` (built into TensorFlow), `ram://` (in memory, for tests), `s3://` and
`hdfs://` once `tensorflow-io` is installed, `file://`. A setting given as a URL of any other
scheme is refused by name before any work (`check_path`), instead of being written as a local
folder named after the scheme. This module is the one place that decides. Local paths are
checked without importing TensorFlow; a URL imports it to ask which schemes are registered.
"""

from __future__ import annotations

import importlib.util
import os
import re

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# Schemes that TensorFlow's file systems take once this package is imported (tensorflow-io).
_PLUGIN_SCHEMES = {"s3": "tensorflow_io", "hdfs": "tensorflow_io", "az": "tensorflow_io",
                   "http": "tensorflow_io", "https": "tensorflow_io"}


def url_scheme(path: str) -> str | None:
    """The scheme of a URL such as `gs://bucket/x` (`"gs"`), or None for a local path."""
    match = _SCHEME.match(path.strip()) if isinstance(path, str) else None
    return match.group(1).lower() if match else None


def file_systems():
    """`tf.io.gfile`, with the file systems of `tensorflow-io` (`s3`, `hdfs`) registered when
    it is installed. Imports TensorFlow."""
    import tensorflow as tf

    if importlib.util.find_spec("tensorflow_io") is not None:
        import tensorflow_io  # noqa: F401 - registers its file systems.
    return tf.io.gfile


def supported_schemes() -> list[str]:
    """The URL schemes TensorFlow's file systems handle here (`file_systems`)."""
    return sorted(scheme for scheme in file_systems().get_registered_schemes() if scheme)


def check_path(key: str, path: str | None) -> None:
    """Refuses a `path` (the setting `key`) that is a URL no installed file system handles.

    Local paths and URLs of a registered scheme (`supported_schemes`) pass; nothing is read or
    written, so a `gs://` URL is accepted without credentials or network.

    Raises:
        ValueError: naming `key`, the scheme, the value received and the schemes there are.
    """
    scheme = url_scheme(path) if path else None
    if scheme is None:
        return
    schemes = supported_schemes()
    if scheme in schemes:
        return
    hint = (f"; install {_PLUGIN_SCHEMES[scheme].replace('_', '-')} for {scheme}://"
            if scheme in _PLUGIN_SCHEMES else "")
    raise ValueError(
        f"`{key}` is a {scheme}:// URL, but no installed file system handles {scheme}:// "
        f"(TensorFlow's file systems here: {', '.join(f'{s}://' for s in schemes)}{hint}). "
        f"Received: {key}={path!r}")


def check_local_path(key: str, path: str | None, command: str) -> None:
    """Refuses a `path` (the setting `key` of the job `command`) that is a URL, where a job
    still writes with local file calls: `convert`'s paths.

    Raises:
        ValueError: naming `key`, the scheme and the value received.
    """
    scheme = url_scheme(path) if path else None
    if scheme:
        raise ValueError(
            f"`{key}` is a {scheme}:// URL, but `albert-keras {command}` reads and writes local "
            f"paths only: give a local path and copy the result (e.g. `gsutil cp -r`). "
            f"Received: {key}={path!r}")


def size_bytes(path: str) -> int:
    """Bytes of a file, or of every file under a directory (0 for a path that is not there);
    `path` may be a URL (read through `file_io`). Links to folders under `path` are not
    followed (as `os.walk`); a link to a file counts the file's bytes."""
    from albert_keras.utils import file_io  # Deferred: `file_io` imports this module.

    if not file_io.isdir(path):
        return file_io.size(path) if file_io.exists(path) else 0
    return sum(file_io.size(os.path.join(folder, name))
               for folder, _, names in file_io.walk(path) for name in names)
