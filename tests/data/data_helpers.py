"""Helpers of the data tests: a tiny pipeline config."""

from __future__ import annotations

from albert_keras.pipeline import pipeline_from_dict


def tiny_pipeline(output_dir, corpus, name="tiny", **data):
    settings = dict(corpus=corpus, output_dir=str(output_dir), tokenizer="sentencepiece",
                    vocabulary_size=300, max_sequence_length=32, max_predictions=5, num_shards=3,
                    dupe_factor=2, masking="whole_word", num_workers=2, seed=7)
    return pipeline_from_dict({"name": name, "data": {**settings, **data}})
