"""`prepare`: corpus -> tokenizer -> sentence pairs -> TFRecord shards + manifest, by the runner
that `data.runner` names.

The two runners sit side by side in `runners/`: `local_runner.py` (this process and its pair
workers) and `beam_runner.py` (the same stages as an Apache Beam pipeline). What they share is
`runners/shared_steps.py`; the choice between them is made here, above both.
"""

from __future__ import annotations

from typing import Any

from albert_keras.pretraining_data.runners.beam_runner import prepare_with_beam
from albert_keras.pretraining_data.runners.local_runner import prepare_locally


def prepare(config, static_masking: bool = False, progress: bool = True) -> dict[str, Any]:
    """Prepares the pretraining data of a pipeline config into `{data.output_dir}/{name}/`.

    Args:
        config: `PipelineConfig` (uses `name` and `data`; `data.runner` picks the runner).
        static_masking: bool. Also write `mask_positions`, `mask_ids`, `mask_weights` (the
            original, static setup). Defaults to False: masking happens in the reader.
        progress: bool. Show progress and print the summary. Defaults to True.

    Returns:
        The summary dict (also stored in `manifest.json`): counts of documents, sentences,
        sequences, tokens, shards, skipped input, and seconds.
    """
    if config.data.runner == "beam":  # Beam itself is imported only when its pipeline is built.
        return prepare_with_beam(config, static_masking=static_masking, progress=progress)
    return prepare_locally(config, static_masking=static_masking, progress=progress)
