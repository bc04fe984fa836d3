"""`compare`: BERT and ALBERT (and the ALBERT paper's ablations) trained side by side, one report."""

from albert_keras.compare.compare_config import ArmConfig, CompareConfig
from albert_keras.compare.comparison import compare

__all__ = ["ArmConfig", "CompareConfig", "compare"]
