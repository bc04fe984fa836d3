"""The values the training machinery accepts for `strategy` and `precision`.

Plain tuples, no TensorFlow: the jobs' configs (`TrainConfig`, `FinetuneConfig`) check their
`strategy` and `precision` against them before TensorFlow is imported, and `make_strategy` /
`resolve_precision` check theirs against the same ones.
"""

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
