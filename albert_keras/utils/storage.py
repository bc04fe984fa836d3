"""Which paths the file layer handles: local ones, for now.

Paths are read and written with `os`, `open` and `shutil`, which take `gs://bucket/x` for a
local folder named `gs:`. Until the file layer writes through `tf.io.gfile` (issue 26), a
setting given as a URL is refused by name before any work; this module is the one place that
decides, so that issue 26 relaxes it here.
"""

from __future__ import annotations

import os
import re

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(path: str) -> str | None:
    """The scheme of a URL such as `gs://bucket/x` (`"gs"`), or None for a local path."""
    match = _SCHEME.match(path.strip()) if isinstance(path, str) else None
    return match.group(1).lower() if match else None


def check_local_path(key: str, path: str | None) -> None:
    """Refuses a `path` (the setting `key`) that is a URL: remote storage is not supported yet.

    Raises:
        ValueError: naming `key`, the scheme and the value received.
    """
    scheme = url_scheme(path) if path else None
    if scheme:
        raise ValueError(
            f"`{key}` is a {scheme}:// URL, but remote storage is not supported yet for this "
            f"setting: give a local path (it would otherwise be written as a local folder "
            f"named '{scheme}:'). Received: {key}={path!r}")


def size_bytes(path: str) -> int:
    """Bytes of a file, or of every file under a directory (0 for a path that is not there)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(path) for name in names)
