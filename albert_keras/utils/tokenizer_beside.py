"""Where a model's tokenizer is kept: the `tokenizer/` directory beside its `.keras` file."""

from __future__ import annotations

import os

from albert_keras.utils import file_io

# The saved tokenizer's directory name, beside records and every `.keras` model file.
TOKENIZER_DIR = "tokenizer"


def tokenizer_beside(path: str) -> str:
    """The `tokenizer/` directory beside the file `path` (which need not exist yet).

    Args:
        path: str. A `.keras` model file (or any file of a run directory); a local path or a
            URL (`gs://...`).

    Returns:
        The directory's path: absolute for a local `path`, a URL for a URL.

    Example:
    ```python
    assert tokenizer_beside("gs://b/runs/x/model.keras") == "gs://b/runs/x/tokenizer"
    ```
    """
    return os.path.join(os.path.dirname(file_io.absolute(os.fspath(path))), TOKENIZER_DIR)
