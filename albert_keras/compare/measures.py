"""What `compare` measures of one arm: parameters by part, sizes on disk, memory, serving latency."""

from __future__ import annotations

import resource
import time
from typing import Sequence

import numpy as np

from albert_keras.utils.storage import size_bytes

_EMBEDDING_LAYERS = ("token_embedding", "position_embedding", "segment_embedding",
                     "embeddings_layer_norm", "embeddings_projection")


def parameter_breakdown(pretrainer) -> dict[str, int]:
    """Parameters of a `Pretrainer` by part; shared weights are counted once.

    `embeddings` (token, position, segment, LayerNorm, ALBERT's projection), `transformer`
    (the distinct blocks), `pooler`, `encoder` (their sum: the backbone), `heads` (masked-LM
    head without the tied token embedding, and the pair head) and `total`.
    """
    encoder = pretrainer.encoder

    def count(weights) -> int:
        unique = {id(w): w for w in weights}
        return int(sum(int(np.prod(w.shape)) for w in unique.values()))

    embedding_layers = [encoder.get_layer(name) for name in _EMBEDDING_LAYERS
                        if any(layer.name == name for layer in encoder.layers)]
    parts = {
        "embeddings": count([w for layer in embedding_layers for w in layer.weights]),
        "transformer": count([w for block in encoder.blocks for w in block.weights]),
        "pooler": count(encoder.get_layer("pooler_dense").weights),
    }
    parts["encoder"] = count(encoder.weights)
    encoder_ids = {id(w) for w in encoder.weights}
    parts["heads"] = count([w for w in pretrainer.weights if id(w) not in encoder_ids])
    parts["total"] = count(pretrainer.weights)
    return parts


def size_mb(path: str) -> float:
    """Size of a file, or of everything under a directory, in MiB."""
    return size_bytes(path) / 2**20


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux `ru_maxrss` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serving_latency(saved_model_dir: str, texts: Sequence[str], batch_sizes: Sequence[int],
                    iterations: int, warmup: int = 3, seed: int = 0) -> dict[str, dict[str, float]]:
    """Latency of the raw-text `serving_default` signature, loaded the way TF Serving loads it.

    The SavedModel goes through the TF1 C++ loader into a `Session` (as `tensorflow_model_server`
    holds it) and is fed batches of `texts` drawn with `seed`. Returns
    `{"batch_<n>": {"p50_ms", "p90_ms", "texts_per_second"}}`.
    """
    import tensorflow as tf

    if not texts:
        raise ValueError("`texts` must hold at least one text to time requests with.")
    session = tf.compat.v1.Session(graph=tf.Graph())
    with session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model_dir)
        signature = meta_graph.signature_def["serving_default"]
        feed = signature.inputs["text"].name
        fetches = [output.name for output in signature.outputs.values()]
        rng = np.random.default_rng(seed)
        pool = np.array([t.encode("utf-8") for t in texts], dtype=object)
        results = {}
        for batch_size in batch_sizes:
            batches = [rng.choice(pool, batch_size) for _ in range(warmup + iterations)]
            seconds = []
            for index, batch in enumerate(batches):
                start = time.perf_counter()
                session.run(fetches, {feed: batch})
                if index >= warmup:
                    seconds.append(time.perf_counter() - start)
            milliseconds = np.array(seconds) * 1000.0
            results[f"batch_{batch_size}"] = {
                "p50_ms": float(np.percentile(milliseconds, 50)),
                "p90_ms": float(np.percentile(milliseconds, 90)),
                "texts_per_second": float(batch_size * 1000.0 / milliseconds.mean())}
    return results
