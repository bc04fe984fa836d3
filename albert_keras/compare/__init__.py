"""`compare`: BERT and ALBERT (and the ALBERT paper's ablations) trained side by side, one report."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["ArmConfig", "CompareConfig", "compare"]
lazy_exports(__name__, {
    "ArmConfig": ".compare_config",
    "CompareConfig": ".compare_config",
    "compare": ".comparison",
})
