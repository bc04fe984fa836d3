"""About how much disk a job's model files take: the figure a full disk's one line gives.

An estimate from the sizes in the config, before any work: float32 weights (4 bytes a
parameter) times the copies a job keeps at its peak. Records are not counted (their size
depends on the corpus); a model given by `model.pretrained` counts as its size on disk.
"""

from __future__ import annotations

import os

from albert_keras.models.model_config import ModelConfig
from albert_keras.utils.storage import size_bytes

# Copies of the weights a training job holds at its peak: two backups (`KEEP` in
# `atomic_backup.py`) of the weights and the optimizer's two moments each.
BACKUP_COPIES = 2 * 3


def bytes_needed(config, command: str) -> int | None:
    """About the bytes the job `command` writes for its models and backups, or None when the
    config does not say (`prepare`, or a model whose size is unknown before it is loaded)."""
    if command == "pretrain":
        epochs = config.train.steps // config.train.steps_per_epoch
        # encoder.keras + pretrainer.keras (of each phase's run), the backups, one checkpoint
        # per epoch.
        return _model_bytes(config.model, config.data.vocabulary_size) * (
            2 * max(1, len(config.train.phases)) + BACKUP_COPIES + epochs)
    if command == "finetune":
        # model.keras, the backups, the best weights, one checkpoint per epoch.
        return _model_bytes(config.model, config.data.vocabulary_size) * (
            2 + BACKUP_COPIES + config.finetune.epochs)
    if command == "export":
        return _model_bytes(config.model, config.data.vocabulary_size)
    if command == "compare":
        compare, finetune = config.compare, config.finetune
        runs = 2 * len(compare.downstream_seeds) * len(finetune.grid()) if compare.downstream \
            else 0
        total = 0
        for arm in compare.arms:
            # encoder.keras, its SavedModel, the backups (of each phase); each fine-tuning run's model.keras
            # stays, and one run at a time holds its backups and checkpoints.
            copies = (2 + BACKUP_COPIES * max(1, len(config.train.phases)) + runs
                      + BACKUP_COPIES + finetune.epochs)
            size = _model_bytes(arm, config.data.vocabulary_size)
            if size is None:
                return None
            total += size * copies
        return total
    return None


def _model_bytes(model: ModelConfig, vocabulary_size: int) -> int | None:
    if model.pretrained:
        return _size_on_disk(model.pretrained)
    encoder = model.encoder_config(vocabulary_size=model.vocabulary_size or vocabulary_size)
    return 4 * encoder.num_parameters()


def _size_on_disk(path: str) -> int | None:
    if not os.path.exists(path):
        return None  # A preset name, or a TF1 checkpoint prefix.
    return size_bytes(path)
