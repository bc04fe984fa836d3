"""Training: pipeline sections, optimizers, schedule, losses, strategies and callbacks.

`albert_keras.training.pretrain.pretrain(config)` runs a whole pretraining job (imported from its
module, not here, to keep this package light).
"""

from albert_keras.training.adamw import AdamW
from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.callbacks import make_callbacks
from albert_keras.training.cross_replica_clipping import CrossReplicaClipping
from albert_keras.training.lamb import Lamb
from albert_keras.training.masked_lm_loss import MaskedLMLoss
from albert_keras.training.optimizers import make_optimizer
from albert_keras.training.strategy import make_strategy
from albert_keras.training.train_config import TrainConfig
from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay
