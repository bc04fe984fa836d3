"""The weight initializer of BERT and ALBERT: a truncated normal of standard deviation 0.02."""

from __future__ import annotations

import keras

# `initializer_range` of the BERT and ALBERT configs (google-research/bert, google-research/albert).
INITIALIZER_STDDEV = 0.02


def truncated_normal() -> keras.initializers.Initializer:
    """A new `TruncatedNormal(stddev=INITIALIZER_STDDEV)`: each layer gets its own instance."""
    return keras.initializers.TruncatedNormal(stddev=INITIALIZER_STDDEV)
