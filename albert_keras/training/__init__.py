"""Training: pipeline sections, optimizers, schedule, losses, strategies and callbacks.

`albert_keras.training.pretrain.pretrain(config)` runs a whole pretraining job (imported from its
module, not here, to keep this package light).
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["AdamW", "AtomicBackupAndRestore", "make_callbacks", "CrossReplicaClipping", "Lamb",
           "MaskedLMLoss", "make_optimizer", "make_strategy", "TrainConfig",
           "WarmupPolynomialDecay"]
lazy_exports(__name__, {
    "AdamW": ".adamw",
    "AtomicBackupAndRestore": ".atomic_backup",
    "make_callbacks": ".callbacks",
    "CrossReplicaClipping": ".cross_replica_clipping",
    "Lamb": ".lamb",
    "MaskedLMLoss": ".masked_lm_loss",
    "make_optimizer": ".optimizers",
    "make_strategy": ".strategy",
    "TrainConfig": ".train_config",
    "WarmupPolynomialDecay": ".warmup_polynomial_decay",
})
