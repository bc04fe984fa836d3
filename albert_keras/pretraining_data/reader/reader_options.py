"""`ReaderOptions`: how `pretraining_dataset` reads records (order, checks, buckets, resume)."""

from __future__ import annotations

import dataclasses

from albert_keras.pretraining_data.data_config import RECORDS_FORMATS


@dataclasses.dataclass(frozen=True)
class ReaderOptions:
    """How `pretraining_dataset` reads its records; masking is set apart (`MaskingConfig`).

    Args:
        shuffle: bool. Shuffle files and records. Defaults to True.
        shuffle_buffer_size: int. Records in the shuffle buffer. Defaults to 10000.
        repeat: bool. Repeat forever. Defaults to True.
        seed: int. Seed of the shuffles and the masks. Defaults to 0.
        verify: bool. Read each shard of this pipeline once before training and check it against
            the manifest, so a truncated or corrupt shard is reported by name. Without it, a
            corrupt record fails later with TensorFlow's `DataLossError`, which does not name
            the file. Defaults to True.
        skip_corrupt: bool. Skip (and log, with a count) corrupt shards instead of failing.
            Defaults to False.
        length_buckets: tuple of int. Increasing sequence lengths, e.g. `(32, 64, 96)`;
            `max_sequence_length` is the last bucket, and larger ones are dropped. When given,
            each batch holds rows of one bucket only and is cut to that bucket's length, and
            `mask_positions` to the most predictions a row of that length can have
            (`ceil(length * mask_rate)`, at most `max_predictions`). Batches then have a few
            shapes (one per bucket): good for CPUs and GPUs (XLA compiles once per shape), not
            for TPUs. Defaults to `()`: every batch is padded to `max_sequence_length`.
        skip_batches: int. Leave out the first batches, exactly those a run that was stopped
            after them saw (same seed: same order, same masks); what a resumed run reads.
            Defaults to 0.
        records_format: str. `"albert_keras"` (made by `prepare`), `"reference"` (made by a
            reference `create_pretraining_data.py`, read with their static masks), or
            `"auto"`: ours when there is a manifest, else as the first record's features say.
            Defaults to `"auto"`.

    Example:
    ```python
    # needs: prepared records
    options = ReaderOptions(shuffle=False, repeat=False, length_buckets=(32, 64))
    dataset = pretraining_dataset("tf_records/albert_tiny", 32, options=options)
    ```
    """

    shuffle: bool = True
    shuffle_buffer_size: int = 10000
    repeat: bool = True
    seed: int = 0
    verify: bool = True
    skip_corrupt: bool = False
    length_buckets: tuple[int, ...] = ()
    skip_batches: int = 0
    records_format: str = "auto"

    def __post_init__(self) -> None:
        # Checked against the records' length by the reader (`check_length_buckets`).
        object.__setattr__(self, "length_buckets", tuple(self.length_buckets or ()))
        if self.shuffle_buffer_size < 1:
            raise ValueError("`shuffle_buffer_size` must be >= 1. "
                             f"Received: shuffle_buffer_size={self.shuffle_buffer_size}")
        if self.skip_batches < 0:
            raise ValueError("`skip_batches` must be >= 0. "
                             f"Received: skip_batches={self.skip_batches}")
        if self.records_format not in RECORDS_FORMATS:
            raise ValueError(f"`records_format` must be one of {list(RECORDS_FORMATS)}. "
                             f"Received: records_format={self.records_format!r}")

    @classmethod
    def from_data(cls, data) -> ReaderOptions:
        """The options a pipeline's `data` section (`DataConfig`) sets; the others default."""
        return cls(shuffle_buffer_size=data.shuffle_buffer_size, seed=data.seed,
                   length_buckets=data.length_buckets, records_format=data.records_format)
