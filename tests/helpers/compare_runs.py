"""For the tests of `compare`: tiny comparisons (one process or the CLI, killed at a chosen
moment) and backups planted in an arm's folder."""

from __future__ import annotations

import json
import os
import subprocess

from tests.helpers.processes import REPO, run_cli

COMPARE_YAML = os.path.join(REPO, "pipelines", "compare.yaml")
ALBERT_ARM = ("[{name: albert, preset: albert_tiny, embedding_dim: 8, num_layers: 2, "
              "hidden_dim: 16, num_heads: 2, intermediate_dim: 32}]")
TWO_ARMS = ("[{name: bert, preset: albert_tiny, share: none, embedding_dim: 16, num_layers: 2, "
            "hidden_dim: 16, num_heads: 2, intermediate_dim: 32}, {name: albert, "
            "preset: albert_tiny, embedding_dim: 8, num_layers: 2, hidden_dim: 16, "
            "num_heads: 2, intermediate_dim: 32}]")


def tiny_compare_overrides(tmp_path, **changes) -> dict[str, object]:
    """`--set` overrides of `pipelines/compare.yaml` for a comparison of seconds: one tiny
    ALBERT arm, 40 documents, 15 steps of 4 sequences, scored every 5, no downstream runs;
    records and runs under `tmp_path`."""
    return {
        "name": "tiny", "compare.arms": ALBERT_ARM, "compare.downstream": "false",
        "data.max_documents": 40, "data.vocabulary_size": 200, "data.max_sequence_length": 32,
        "data.length_buckets": "[]", "data.dupe_factor": 1, "data.held_out_fraction": 0.2,
        "data.max_predictions": 5, "data.num_workers": 1,
        "data.output_dir": str(tmp_path / "records"),
        "compare.output_dir": str(tmp_path / "runs"), "compare.eval_every": 5,
        "compare.eval_batches": 1, "compare.latency_iterations": 1, "train.steps": 15,
        "train.steps_per_epoch": 5, "train.warmup_steps": 2, "train.global_batch_size": 4,
        **changes,
    }


def run_compare(overrides: dict[str, object],
                kill_when: str | None = None) -> subprocess.CompletedProcess:
    """`albert-keras compare` on `pipelines/compare.yaml` with `overrides`, in a fresh process
    that SIGKILLs itself when a path matching `kill_when` appears."""
    args = ["compare", "--config", COMPARE_YAML]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    return run_cli(args, kill_when=[kill_when] if kill_when else None)


def fake_backup(backup_dir, settings: dict, epoch: int = 1) -> None:
    """A readable backup of `epoch` made with `settings` in `backup_dir` (a `pathlib.Path`)."""
    import h5py

    folder = backup_dir / f"epoch-{epoch:05d}"
    folder.mkdir(parents=True)
    with h5py.File(folder / "latest.weights.h5", "w") as f:
        f.create_dataset("w", data=[1.0, 2.0])
    (folder / "training_metadata.json").write_text(json.dumps(
        {"epoch": epoch, "history": {}, "train_seconds": 1.0, "settings": settings}))
