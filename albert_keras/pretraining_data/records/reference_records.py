"""Pretraining records made by the reference `create_pretraining_data.py` scripts, read as they are.

google-research/bert, google-research/albert and the TF Model Garden (`official/nlp/data`)
write one `tf.train.Example` per pair, masks already drawn (static masking). The reader maps
their features onto ours (`features.py`) and then treats them like `prepare --static-masking`
records:

| Their feature                                   | Type, length              | Ours             |
|-------------------------------------------------|---------------------------|------------------|
| `input_ids` (Model Garden v2: `input_word_ids`) | int64 [max_seq_length]    | `token_ids`      |
| `segment_ids` (v2: `input_type_ids`)            | int64 [max_seq_length]    | `segment_ids`    |
| `input_mask`                                    | int64 [max_seq_length]    | `padding_mask`   |
| `masked_lm_positions`                           | int64 [max_predictions]   | `mask_positions` |
| `masked_lm_ids`                                 | int64 [max_predictions]   | `mask_ids`       |
| `masked_lm_weights`                             | float [max_predictions]   | `mask_weights`   |
| `next_sentence_labels`                          | int64 [1]                 | `pair_label`     |
| `token_boundary` (ALBERT only)                  | int64 [max_seq_length]    | not read         |

`input_ids` already hold the `[MASK]` / random / kept replacements; empty prediction slots are
position 0, id 0, weight 0.0, as in ours. `token_boundary` only guided the script's n-gram
masking, which is done.

Pair labels mean what ours mean, so they are read unchanged: BERT's and the Model Garden's
`next_sentence_labels` 1 = segment B is a random segment from another document (NSP), ours
1 = random next; google-research/albert keeps the name but stores the sentence-order label,
1 = A and B swapped (SOP; also 1 when a chunk had one segment and B came from another
document), ours 1 = swapped. The records do not say which task they hold (ALBERT's script
writes NSP with `--random_next_sentence`): `data.pair_task` does.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses

import tensorflow as tf

from albert_keras.pretraining_data.records.shards import compression

FORMATS = ("albert_keras", "reference")  # What `records_format` resolves to.
_NAMES = {"input_ids": ("input_ids", "segment_ids"),  # v1 names (BERT, ALBERT, Model Garden)
          "input_word_ids": ("input_word_ids", "input_type_ids")}  # Model Garden's v2 names
_MASKS = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")


@dataclasses.dataclass(frozen=True)
class ReferenceLayout:
    """The features and lengths of a set of reference records, read from its first record.

    Args:
        path: str. The shard the first record came from (named in errors).
        max_sequence_length: int. Length of `input_ids` (the script's `--max_seq_length`).
        max_predictions: int. Length of `masked_lm_positions` (`--max_predictions_per_seq`).
        token_feature: str. `"input_ids"`, or `"input_word_ids"` (Model Garden v2 names).
        segment_feature: str. `"segment_ids"`, or `"input_type_ids"`.
        token_boundary: bool. The records have ALBERT's `token_boundary`.

    Example:
    ```python
    # needs: records made by create_pretraining_data.py
    layout = read_layout(["wiki-00000.tfrecord"])
    layout.max_sequence_length, layout.max_predictions  # (512, 20)
    batch = layout.parse(serialized)  # token_ids, segment_ids, padding_mask, ...
    ```
    """

    path: str
    max_sequence_length: int
    max_predictions: int
    token_feature: str = "input_ids"
    segment_feature: str = "segment_ids"
    token_boundary: bool = False

    def parse(self, serialized) -> dict:
        """A batch `[B]` of serialized records -> our features, as `features.parse_examples`
        gives them for statically masked records (int32, float32 `mask_weights`)."""
        length, predictions = self.max_sequence_length, self.max_predictions
        spec = {self.token_feature: tf.io.FixedLenFeature([length], tf.int64),
                self.segment_feature: tf.io.FixedLenFeature([length], tf.int64),
                "input_mask": tf.io.FixedLenFeature([length], tf.int64),
                "masked_lm_positions": tf.io.FixedLenFeature([predictions], tf.int64),
                "masked_lm_ids": tf.io.FixedLenFeature([predictions], tf.int64),
                "masked_lm_weights": tf.io.FixedLenFeature([predictions], tf.float32),
                "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64)}
        parsed = tf.io.parse_example(serialized, spec)
        as_int = lambda name: tf.cast(parsed[name], tf.int32)  # noqa: E731
        return {"token_ids": as_int(self.token_feature),  # (batch, seq)
                "segment_ids": as_int(self.segment_feature),
                "padding_mask": as_int("input_mask"),
                "pair_label": as_int("next_sentence_labels")[:, 0],  # (batch,), same meaning
                "mask_positions": as_int("masked_lm_positions"),  # (batch, predictions)
                "mask_ids": as_int("masked_lm_ids"),
                "mask_weights": parsed["masked_lm_weights"]}


def first_example(files: list[str]) -> tuple[str, tf.train.Example]:
    """`(path, example)` of the first record of the first shard that has one."""
    for path in files:
        try:
            for record in tf.data.TFRecordDataset(path, compression_type=compression(path)).take(1):
                return path, tf.train.Example.FromString(record.numpy())
        except tf.errors.OpError as error:
            raise ValueError(f"Corrupt TFRecord shard {path!r}: cannot read its first record "
                             f"({type(error).__name__}: {error.message.splitlines()[0]})") from None
    raise ValueError(f"Every shard is empty: {files[0]!r} ({len(files)} file(s)) has no record")


def records_format(files: list[str], requested: str = "auto") -> str:
    """`"albert_keras"` or `"reference"`: what the first record holds, checked against
    `requested` (`"auto"`, `"albert_keras"` or `"reference"`)."""
    if requested not in ("auto", *FORMATS):
        raise ValueError(f"`records_format` must be one of {['auto', *FORMATS]}. "
                         f"Received: records_format={requested!r}")
    path, example = first_example(files)
    names = set(example.features.feature)
    found = ("albert_keras" if "token_ids" in names
             else "reference" if names & set(_NAMES) and "masked_lm_positions" in names else None)
    if found is None or requested not in ("auto", found):
        what = "no pretraining record we know" if found is None else f"a {found} record"
        raise ValueError(
            f"The first record of {path!r} is {what} (features {sorted(names)}; albert_keras "
            "records have token_ids, reference ones input_ids and masked_lm_positions). "
            f"Received: records_format={requested!r}")
    return found


def read_layout(files: list[str]) -> ReferenceLayout:
    """The `ReferenceLayout` of reference records, from their first record."""
    path, example = first_example(files)
    feature = example.features.feature
    token_name = next((name for name in _NAMES if name in feature), None)
    missing = [name for name in (*(_NAMES[token_name] if token_name else ("input_ids",)),
                                 "input_mask", *_MASKS, "next_sentence_labels")
               if name not in feature]
    if missing:
        raise ValueError(f"The first record of {path!r} lacks the features {missing} of "
                         "create_pretraining_data.py records. It has: "
                         f"{sorted(feature)}")
    return ReferenceLayout(
        path=path, max_sequence_length=len(feature[token_name].int64_list.value),
        max_predictions=len(feature["masked_lm_positions"].int64_list.value),
        token_feature=token_name, segment_feature=_NAMES[token_name][1],
        token_boundary="token_boundary" in feature)


def check_lengths(layout: ReferenceLayout, max_sequence_length: int | None,
                  max_predictions: int | None, prefix: str = "") -> None:
    """One line naming the file, each key and both values when a given length differs."""
    wanted = {"max_sequence_length": max_sequence_length, "max_predictions": max_predictions}
    differ = [f"{prefix}{key}={value} but the records have {getattr(layout, key)}"
              for key, value in wanted.items()
              if value is not None and value != getattr(layout, key)]
    if differ:
        raise ValueError(f"The records of {layout.path!r} (made by create_pretraining_data.py) "
                         f"do not fit the config: {'; '.join(differ)}. Set the config to the "
                         "records' lengths (the script's --max_seq_length and "
                         "--max_predictions_per_seq).")


def largest_token_ids(files: list[str], layout: ReferenceLayout) -> dict[str, int]:
    """The largest id in `input_ids` and `masked_lm_ids`, per shard (read in parallel).

    Reads every record, so it also finds a corrupt shard, or one of other lengths than the
    first record's; the error names it.
    """
    spec = {layout.token_feature: tf.io.FixedLenFeature([layout.max_sequence_length], tf.int64),
            "masked_lm_ids": tf.io.FixedLenFeature([layout.max_predictions], tf.int64)}

    def largest(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        return tf.maximum(tf.reduce_max(parsed[layout.token_feature]),  # Batches of >= 1.
                          tf.reduce_max(parsed["masked_lm_ids"]))

    def scan(path: str) -> int | str:
        dataset = tf.data.TFRecordDataset(path, compression_type=compression(path))
        try:
            return int(dataset.batch(4096).map(largest).reduce(
                tf.constant(-1, tf.int64), tf.maximum))
        except tf.errors.OpError as error:
            return f"{type(error).__name__}: {error.message.splitlines()[0]}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(files)) or 1) as pool:
        results = dict(zip(files, pool.map(scan, files)))
    for path, result in results.items():
        if isinstance(result, str):
            raise ValueError(
                f"Corrupt TFRecord shard {path!r}, or one with other lengths than "
                f"max_sequence_length={layout.max_sequence_length}, "
                f"max_predictions={layout.max_predictions} (read from {layout.path!r}): {result}")
    return results


def check_vocabulary(largest: dict[str, int], vocabulary_size: int, tokenizer_path: str) -> None:
    """One line naming the shard, its largest id and the vocabulary when an id is too large."""
    path, top = max(largest.items(), key=lambda item: item[1])
    if top >= vocabulary_size:
        raise ValueError(
            f"{path!r} holds token id {top}, but the tokenizer data.tokenizer_path="
            f"{tokenizer_path!r} has vocabulary_size={vocabulary_size}: the records were made "
            "with another vocabulary (give the vocab.txt or .model they were made with).")
