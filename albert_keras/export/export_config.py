"""`ExportConfig`: the `export` section of a pipeline (owned by the export stage)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """Where and how a model is exported for TensorFlow Serving."""

    base_dir: str = "saved_models"
    model_name: str | None = None
    version: int | None = None
    overwrite: bool = False
