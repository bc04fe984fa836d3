"""A pretraining run in phases (`train.phases`): shorter sequences first, as BERT's 128-then-512.

Each phase is one whole `pretrain` run of its own (resumable, published as a unit), on records
of its own sequence length, continuing the weights and heads of the phase before with a new
schedule. The last phase is the pipeline's run (`{train.output_dir}/{name}/`, the models the
later jobs read); the earlier ones are kept beside it as `{name}.phase{k}/` (runs and records).

    train:
      steps: 1000
      phases:
        - {steps: 600, max_sequence_length: 32, max_predictions: 10, length_buckets: [16]}
        - {steps: 400, warmup_steps: 40}

Records: the last phase's are the pipeline's own (`{data.output_dir}/{name}/`, where the
tokenizer is trained unless `data.tokenizer_path` names one); the earlier phases' are made with
that same tokenizer, so every phase reads the same ids. `prepare` therefore makes the last
phase's records first (`records_order`). A phase finished before (its published summary made
with the same settings, continuing the same weights) is not trained again: a run killed in a
later phase goes on there.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

from albert_keras.utils import file_io
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase: its pipeline config (name, data, train) and where it stands among the others.

    Args:
        config: the phase's `PipelineConfig` (`train.phases` empty, `train.steps` its own).
        index: int. 1 for the first phase.
        count: int. How many phases the run has.
    """

    config: Any
    index: int
    count: int

    @property
    def last(self) -> bool:
        return self.index == self.count

    @property
    def run_dir(self) -> str:
        return os.path.join(self.config.train.output_dir, self.config.name)

    def describe(self) -> str:
        data, train = self.config.data, self.config.train
        return (f"phase {self.index} of {self.count}: {train.steps} steps of "
                f"{data.max_sequence_length}-token sequences (warmup {train.warmup_steps}, "
                f"peak {train.learning_rate:g})")


def phase_name(name: str, index: int) -> str:
    """The run and records folder of an earlier phase: `{name}.phase{index}`."""
    return f"{name}.phase{index}"


def phases(config) -> list[Phase]:
    """The phases of `config` in training order; one (the config itself) without `train.phases`.

    Builds every phase's config, so a phase setting that does not fit its data (e.g.
    `max_predictions` above what its sequences hold) fails here, before any work.
    """
    specs = config.train.phases
    if not specs:
        return [Phase(config, 1, 1)]
    own_tokenizer = config.data.tokenizer_path or os.path.join(
        config.data.output_dir, config.name, TOKENIZER_DIR)
    result = []
    for index, spec in enumerate(specs, start=1):
        last = index == len(specs)
        data = dataclasses.replace(config.data, **spec.data_overrides())
        if not last:  # The last phase's records own the tokenizer; the others read it.
            data = dataclasses.replace(data, tokenizer_path=own_tokenizer)
        train = dataclasses.replace(config.train, phases=(), **spec.train_overrides())
        model = config.model if index == 1 else dataclasses.replace(config.model,
                                                                    pretrained=None)
        result.append(Phase(dataclasses.replace(
            config, name=config.name if last else phase_name(config.name, index), data=data,
            train=train, model=model), index, len(specs)))
    return result


def records_order(run: list[Phase]) -> list[Phase]:
    """The order `prepare` makes the phases' records in: the last phase's (which trains or
    copies the tokenizer) first."""
    return [run[-1], *run[:-1]] if len(run) > 1 else run


def pretrain_in_phases(config, prepare_missing: Callable[[Any], None]) -> dict[str, Any]:
    """Trains every phase in order (`pretrain` each), skipping phases finished before with the
    same settings; returns the last phase's summary, which lists every phase.

    Args:
        config: `PipelineConfig` with `train.phases`.
        prepare_missing: makes a phase's records when they are missing (the job's
            prepare-if-missing), called for every phase in `records_order` before training.
    """
    from albert_keras.jobs.pretrain import pretrain

    run = phases(config)
    for phase in records_order(run):
        prepare_missing(phase.config)
    done: list[dict[str, Any]] = []
    continue_from = None
    for phase in run:
        settings = phase_settings(phase, continue_from)
        summary = None if phase.last else finished_phase(phase, settings)
        if summary is not None:
            print(f"[pretrain] {phase.describe()}: finished before ({phase.run_dir}/), "
                  "continuing from it")
        else:
            print(f"[pretrain] {phase.describe()}"
                  + (f", continuing from {continue_from['path']}" if continue_from else ""))
            summary = pretrain(phase.config, continue_from=continue_from,
                               phase=settings, earlier_phases=done)
        done.append(phase_brief(summary))
        continue_from = {"path": os.path.join(phase.run_dir, "pretrainer.keras"),
                         "weights_sha256": summary.get("weights_sha256")}
    return summary


def phase_settings(phase: Phase, continue_from: dict | None) -> dict[str, Any]:
    """What makes a phase's result: its whole config and the weights it starts from (recorded
    in its summary, compared by `finished_phase`)."""
    from albert_keras.jobs.pretrain_report import json_safe

    return json_safe({"index": phase.index, "count": phase.count,
                      "config": dataclasses.asdict(phase.config),
                      "continue_from": continue_from})


def finished_phase(phase: Phase, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of `phase` when a run published it completed with these very settings."""
    path = os.path.join(phase.run_dir, "summary.json")
    if not (file_io.isfile(path) and file_io.exists(os.path.join(phase.run_dir,
                                                                 "pretrainer.keras"))):
        return None
    try:
        summary = json.loads(file_io.read_text(path))
    except (OSError, ValueError):
        return None
    if summary.get("status") != "completed" or summary.get("phase") != settings:
        return None
    return summary


def phase_brief(summary: dict[str, Any]) -> dict[str, Any]:
    """One phase's entry in the run's summary, from that phase's own summary."""
    settings = summary["phase"]
    return {"phase": settings["index"], "name": summary["name"], "run_dir": summary["run_dir"],
            "max_sequence_length": settings["config"]["data"]["max_sequence_length"],
            "steps": summary["steps"], "steps_run": summary["steps_run"],
            "train_seconds": summary["train_seconds"], "eval_source": summary["eval_source"],
            "initial": summary["initial"], "final": summary["final"]}


def add_phases(summary: dict[str, Any], earlier: list[dict[str, Any]]) -> None:
    """Makes the last phase's summary the run's: `phases` (each phase's entry) and the whole
    run's `steps`, `steps_run` and `train_seconds`; its scores stay the last phase's."""
    summary["phases"] = [*earlier, phase_brief(summary)]
    for key in ("steps", "steps_run", "train_seconds"):
        summary[key] = sum(entry[key] for entry in summary["phases"])
    summary["train_seconds"] = round(summary["train_seconds"], 1)
