"""Helpers of the data tests: a tiny pipeline config; records as the reference scripts write."""

from __future__ import annotations

from albert_keras.pipeline import pipeline_from_dict


def tiny_pipeline(output_dir, corpus, name="tiny", **data):
    settings = dict(corpus=corpus, output_dir=str(output_dir), tokenizer="sentencepiece",
                    vocabulary_size=300, max_sequence_length=32, max_predictions=5, num_shards=3,
                    dupe_factor=2, masking="whole_word", num_workers=2, seed=7)
    return pipeline_from_dict({"name": name, "data": {**settings, **data}})


def write_reference_records(path, num_records=12, max_sequence_length=16, max_predictions=4,
                            vocabulary_size=35, albert=True, v2_names=False, seed=0,
                            mask_id=4, first_id=5, masked_lm_prob=0.15):
    """Writes one TFRecord file as a reference `create_pretraining_data.py` does: the feature
    names, dtypes and lengths of google-research/bert (`albert=False`), google-research/albert
    (`albert=True`: plus `token_boundary`) or the Model Garden's v2 names (`v2_names=True`).

    Rows are `[CLS] A [SEP] B [SEP]` (ids 2 and 3) then zeros, with the scripts' number of
    masked positions, `round(length * masked_lm_prob)` (at least 1, at most `max_predictions`),
    sorted, never special, `[MASK]` = `mask_id` or the id kept, and the empty slots as
    position 0, id 0, weight 0.0. Returns the written features as numpy arrays
    `[num_records, ...]`, keyed by the reference names.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    columns = {name: [] for name in ("input_ids", "input_mask", "segment_ids", "token_boundary",
                                     "masked_lm_positions", "masked_lm_ids",
                                     "masked_lm_weights", "next_sentence_labels")}
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(num_records):
            length = int(rng.integers(5, max_sequence_length + 1))
            split = int(rng.integers(2, length - 2))  # [CLS] A=1..split-1 [SEP]=split B [SEP]
            ids = rng.integers(first_id, vocabulary_size, length)
            ids[0], ids[split], ids[length - 1] = 2, 3, 3
            maskable = [i for i in range(1, length - 1) if i != split]
            count = min(max_predictions, len(maskable), max(1, round(length * masked_lm_prob)))
            positions = np.sort(rng.choice(maskable, count, replace=False))
            labels = ids[positions].copy()
            ids[positions] = np.where(rng.random(count) < 0.8, mask_id, ids[positions])
            pad, pad_predictions = max_sequence_length - length, max_predictions - count
            row = {
                "input_ids": np.pad(ids, (0, pad)),
                "input_mask": np.pad(np.ones(length, np.int64), (0, pad)),
                "segment_ids": np.pad((np.arange(length) > split).astype(np.int64), (0, pad)),
                "token_boundary": np.pad(rng.integers(0, 2, length), (0, pad)),
                "masked_lm_positions": np.pad(positions, (0, pad_predictions)),
                "masked_lm_ids": np.pad(labels, (0, pad_predictions)),
                "masked_lm_weights": np.pad(np.ones(count, np.float32), (0, pad_predictions)),
                "next_sentence_labels": np.array([rng.integers(0, 2)]),
            }
            feature = {}
            for name, values in row.items():
                if name == "token_boundary" and not albert:
                    continue
                columns[name].append(values)
                stored = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}.get(
                    name, name) if v2_names else name
                if name == "masked_lm_weights":
                    feature[stored] = tf.train.Feature(
                        float_list=tf.train.FloatList(value=values.tolist()))
                else:
                    feature[stored] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=values.tolist()))
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    return {name: np.stack(values) for name, values in columns.items() if values}
