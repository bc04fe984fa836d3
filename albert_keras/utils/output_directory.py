"""`new_output_directory`: an export's directory, created empty, never replaced unasked."""

from __future__ import annotations

import os
import shutil


def new_output_directory(directory: str, overwrite: bool, command: str) -> str:
    """Creates `directory` empty; an existing one is an error naming it, or with `overwrite`
    is removed first. `command` is the CLI command whose `--overwrite` the error suggests."""
    if os.path.exists(directory):
        if not overwrite:
            raise FileExistsError(f"{directory!r} exists; pass overwrite=True "
                                  f"(`albert-keras {command} --overwrite`) to replace it.")
        shutil.rmtree(directory)
    os.makedirs(directory)
    return directory
