"""The jobs, one layer above the machinery they use: `prepare` (`task_corpus.prepare_records`),
`pretrain` (`pretrain.py`, its fit and save: `pretrain_fit.py`, in phases: `pretrain_phases.py`),
`finetune` (`finetune.py`, its inputs: `finetune_data.py`, a grid of learning rates:
`finetune_grid.py`), `export` (`export_pipeline.py`), and their configs (the `train`,
`finetune` and `export` sections of a pipeline). `compare` (the package above) runs them side by
side; `albert_keras.pipeline_config` loads their YAML and `albert_keras.cli` calls them.

The job functions are imported from their modules (`from albert_keras.jobs.pretrain import
pretrain`): a public name equal to its module's name would hide the module here.
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["ExportConfig", "FinetuneConfig", "PhaseConfig", "TrainConfig", "export_pipeline"]
lazy_exports(__name__, {
    "ExportConfig": ".export_config",
    "FinetuneConfig": ".finetune_config",
    **dict.fromkeys(["PhaseConfig", "TrainConfig"], ".train_config"),
    "export_pipeline": ".export_pipeline",
})
