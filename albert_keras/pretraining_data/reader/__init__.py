"""Stage 4 of the pretraining data: TFRecord shards -> batches for `model.fit`
(`pretraining_dataset`), sharded per worker, masked on the fly, optionally bucketed by length."""
