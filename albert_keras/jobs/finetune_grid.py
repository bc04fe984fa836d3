"""`finetune` over a learning-rate grid: one run per rate of `finetune.learning_rates`, the
one with the best validation score kept as the job's model (`downstream_protocol.py`).

The runs go to `{finetune.output_dir}/{name}/learning_rates/lr-{rate}/`; the chosen run's
`model.keras`, `labels.json` and `tokenizer/` are published to `{finetune.output_dir}/{name}/`
as one unit (what `export` reads), with a `report.json` that adds `learning_rate_grid`: the metric, each
rate's validation score and the chosen rate. The test split is scored by every run (it is
part of `finetune`) but never read for the choice.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import keras

from albert_keras.jobs.downstream_protocol import choose_learning_rate, rate_key
from albert_keras.jobs.finetune import finetune
from albert_keras.tasks import finetune_metrics
from albert_keras.tasks.registry import task_named
from albert_keras.utils import file_io
from albert_keras.utils.published_run import publish_run, published_record
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

GRID_DIR = "learning_rates"
_KEPT = ("model.keras", "labels.json", TOKENIZER_DIR)


def finetune_with_grid(config) -> dict[str, Any]:
    """`finetune(config)`, or with `finetune.learning_rates` one run per rate, the best on
    validation kept. Returns the kept run's report (with `learning_rate_grid` for a grid)."""
    ft = config.finetune
    if not ft.learning_rates:
        return finetune(config)
    metric = task_named(ft.task).score_name(ft)
    run_dir = os.path.join(ft.output_dir, config.name)
    reports = {}
    for rate in ft.learning_rates:
        keras.utils.set_random_seed(ft.seed)  # Every rate from the same start.
        print(f"[finetune] {config.name}: learning rate {rate}")
        reports[rate] = finetune(dataclasses.replace(
            config, name=f"lr-{rate_key(rate)}", finetune=dataclasses.replace(
                ft, learning_rate=rate, learning_rates=(),
                output_dir=os.path.join(run_dir, GRID_DIR))))
    validation = {rate: [float(report["metrics"]["validation"][metric])]
                  for rate, report in reports.items()}
    chosen = choose_learning_rate(validation)
    chosen_dir = reports[chosen]["run_dir"]
    report = {**reports[chosen], "name": config.name, "run_dir": run_dir,
              "learning_rate_grid": {
                  "metric": metric, "split": "validation", "chosen": chosen,
                  "validation": {rate_key(rate): scores[0] for rate, scores in validation.items()},
                  "runs": {rate_key(rate): report["run_dir"] for rate, report in reports.items()}}}

    def write(staging: str) -> None:  # The chosen run's model, labels and tokenizer, one unit.
        for name in _KEPT:
            source = os.path.join(chosen_dir, name)
            if file_io.isdir(source):
                file_io.copy_tree(source, os.path.join(staging, name))
            else:
                file_io.copy(source, os.path.join(staging, name))
        file_io.write_text(os.path.join(staging, "report.json"), json.dumps(report, indent=2))
        file_io.write_text(os.path.join(staging, "report.md"),
                           finetune_metrics.report_markdown(report))

    found = published_record(os.path.join(chosen_dir, "model.keras"))  # Its tokenizer's print.
    publish_run(run_dir, write, {**(found[0] if found else {}), "name": config.name,
                                 "learning_rate": chosen, "copied_from": chosen_dir})
    print(f"[finetune] {config.name}: learning rate {chosen} kept (validation {metric} "
          + ", ".join(f"{rate}: {scores[0]:.4f}" for rate, scores in validation.items())
          + f") -> {run_dir}")
    return report
