"""Training machinery, reusable by every job: optimizers, schedule, losses, strategies, precision,
gradient accumulation, callbacks and backups, and compiling and feeding a `Pretrainer`.

The jobs that use it (`pretrain`, `finetune`, and their configs such as `TrainConfig`) live one
layer up, in `albert_keras.jobs`.
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["AdamW", "AtomicBackupAndRestore", "make_callbacks", "CrossReplicaClipping", "Lamb",
           "MaskedLMLoss", "make_optimizer", "make_strategy", "WarmupPolynomialDecay"]
lazy_exports(__name__, {
    "AdamW": ".adamw",
    "AtomicBackupAndRestore": ".atomic_backup",
    "make_callbacks": ".callbacks",
    "CrossReplicaClipping": ".cross_replica_clipping",
    "Lamb": ".lamb",
    "MaskedLMLoss": ".masked_lm_loss",
    "make_optimizer": ".optimizers",
    "make_strategy": ".strategy",
    "WarmupPolynomialDecay": ".warmup_polynomial_decay",
})
