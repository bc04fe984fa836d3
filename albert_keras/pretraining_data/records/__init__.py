"""Stage 3 of the pretraining data: sentence pairs -> TFRecord shards. The feature spec
(`features.py`, encoded by `tf_example_wire.py`), the shard writer (`writer.py`), the shard
files (`shards.py`), the manifest that publishes a record set (`records_manifest.py`) and its
checks (`records_check.py`), and records made by the reference code (`reference_records.py`)."""
