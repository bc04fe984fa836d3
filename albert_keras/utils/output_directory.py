"""`write_output_directory`: an export's directory, written whole or not at all."""

from __future__ import annotations

from typing import Any, Callable

from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_atomic


def write_output_directory(directory: str, write: Callable[[str], Any], overwrite: bool,
                           command: str) -> str:
    """Calls `write(path)` (which creates the directory `path` and fills it) beside
    `directory`, then renames it into place: a killed export leaves the previous directory
    as it was, and the next run cleans up after it. An existing `directory` is an error
    naming it unless `overwrite`; `command` is the CLI command whose `--overwrite` it suggests.
    Returns `directory`."""
    if file_io.exists(directory) and not overwrite:
        raise FileExistsError(f"{directory!r} exists; pass overwrite=True "
                              f"(`albert-keras {command} --overwrite`) to replace it.")
    return write_atomic(directory, write)
