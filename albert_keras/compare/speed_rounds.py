"""`compare`'s speed: the arms' train steps timed in alternated rounds, in one fresh process.

An arm's training run gives one tokens/s figure, made alone and at whatever load the machine had
then; on a shared machine that noise would become the report's verdict. So once every arm has
pretrained, one fresh process (`arm_process`: it dies with the comparison) builds every arm that
pretrains the way its own process does for training (`arm_pretrainer`: the same config and
precision, `compile_pretrainer`, the same records reader), warms each up (untimed steps until
every batch shape is traced), then times `compare.speed_steps` train steps per arm and round, in
`compare.speed_rounds` rounds of alternated order (A B | B A | A B, `utils/rounds.py`). Every
arm trains on the very same batches (the reader's first ones, held in memory, so reading is not
timed), and tokens/s counts their real (non-padding) tokens, from their padding masks.

The result, `report.json`'s `speed` (written to `{run}/speed.json`, reused by a rerun with the
same settings; delete it to time the arms again):

- `rounds`, `steps_per_round`, `order` (each round's arm order), `unit` (`"tokens/s"`),
  `real_tokens_per_round` (of the timed batches), `precision`, `device`, `tolerance`,
  `verdict_rule`, `load_average_before` / `load_average_after` (1, 5, 15 min) and `seconds`
  (building, warm-up and rounds, in the process);
- `arms`: per arm, `rounds` (tokens/s, one per round), `median`, `min`, `max`;
- `reference`: the arm the others are compared with (the first arm that shares nothing, BERT;
  else the first arm); `ratios`: per other arm, `a`, `b` (the reference), `ratio`,
  `speed_ratio_rounds` (a's tokens/s over b's, per round), `median`, `min`, `max`, `tolerance`
  and `verdict` (`"faster"`, `"slower"` or `"cannot conclude"`).

Each arm's own entry gets `tokens_per_second` (the median of its rounds),
`tokens_per_second_rounds`, `tokens_per_second_min`, `tokens_per_second_max` and
`train_tokens_per_second` (its training run's one figure, what the equal-time view rests on).
Memory stays measured in each arm's own process: a process's peak memory is its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from albert_keras.compare import arm_process
from albert_keras.compare.arm_pretraining import arm_pretrainer, dataset_fn
from albert_keras.compare.finished_arms import settings_digest
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.training.precision import resolve_precision
from albert_keras.training.pretraining import compile_pretrainer
from albert_keras.training.strategy import make_strategy
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_json_atomic
from albert_keras.utils.rounds import (VERDICT_RULE, alternated_order, run_rounds,
                                       speed_ratios, summarize, verdict)

SPEED_RESULT = "speed.json"  # In the run's folder: the speed rounds and the settings they had.


def speed_settings(config, records: str, tokenizer_dir: str,
                   manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """What shapes the speed rounds, as JSON: the timed arms, `train`, `data`, the speed
    settings, the records and tokenizer, and the records' manifest (without its wall time)."""
    compare = config.compare
    settings = {"arms": [dataclasses.asdict(arm) for arm in compare.arms if arm.pretrain],
                "train": dataclasses.asdict(config.train), "data": dataclasses.asdict(config.data),
                "speed_rounds": compare.speed_rounds, "speed_steps": compare.speed_steps,
                "speed_tolerance": compare.speed_tolerance, "records": records,
                "tokenizer": tokenizer_dir,
                "manifest": {k: v for k, v in (manifest or {}).items() if k != "seconds"}}
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def speed_in_process(config, records: str, tokenizer_dir: str, run_dir: str,
                     manifest: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The arms' speed rounds (the `speed` section), measured in a fresh process that dies with
    this one, or kept from `{run_dir}/speed.json` when it was measured with the same settings.

    Returns None when no arm pretrains (nothing to time).
    """
    if not any(arm.pretrain for arm in config.compare.arms):
        return None
    path = os.path.join(run_dir, SPEED_RESULT)
    digest = settings_digest(speed_settings(config, records, tokenizer_dir, manifest))
    if file_io.isfile(path):
        try:
            kept = json.loads(file_io.read_text(path))
        except (OSError, ValueError):
            kept = None
        if isinstance(kept, dict) and kept.get("settings_sha256") == digest:
            print(f"[compare] speed rounds: measured before with the same settings; kept "
                  f"({path})", flush=True)
            return kept["speed"]
        print("[compare] speed rounds: measuring again (settings changed)", flush=True)
    file_io.remove(path)
    exitcode = arm_process.run_in_child(_write_speed, (config, records, tokenizer_dir, path,
                                                       digest), name="speed-rounds")
    if exitcode != 0 or not file_io.isfile(path):
        raise RuntimeError(f"The speed rounds failed (exit code {exitcode}); their output is "
                           "above. Rerun compare: the finished arms are kept.")
    return json.loads(file_io.read_text(path))["speed"]


def _write_speed(config, records: str, tokenizer_dir: str, path: str, digest: str) -> None:
    write_json_atomic(path, {"settings_sha256": digest,
                             "speed": measure_speed(config, records, tokenizer_dir)})


def measure_speed(config, records: str, tokenizer_dir: str) -> dict[str, Any]:
    """Times the train steps of every arm that pretrains in alternated rounds, in this process;
    returns the `speed` section (see the module's docstring)."""
    started, load_before = time.perf_counter(), _load_average()
    compare, train = config.compare, config.train
    tokenizer = load_tokenizer(tokenizer_dir)
    strategy = make_strategy(train.strategy)
    precision, _ = resolve_precision(train.precision, strategy)  # As the arms trained.
    # The reader's first batches, held in memory: every arm steps on the same ones.
    batches = dataset_fn(config, records, tokenizer)(None).take(compare.speed_steps).cache()
    real_tokens, first_of_shape = 0, {}
    for index, (x, _, _) in enumerate(batches.as_numpy_iterator()):  # Also fills the cache.
        real_tokens += int(np.sum(x["padding_mask"]))
        first_of_shape.setdefault(x["token_ids"].shape, index)
    # Up to the first batch of the last shape to appear (length buckets): every train step is
    # traced, on the very dataset the rounds use, before any is timed.
    warmup_steps = max(first_of_shape.values()) + 1
    pretrainers = {}
    for arm in compare.arms:
        if arm.pretrain:
            keras.utils.set_random_seed(train.seed)  # As in the arm's process.
            with strategy.scope():
                pretrainers[arm.name] = arm_pretrainer(arm, tokenizer, config.data.pair_task,
                                                        precision, tokenizer_dir)
                compile_pretrainer(pretrainers[arm.name], train)
    # Only once every arm is built: a train step traced before a later `set_random_seed` would
    # be traced again (the global seed is part of a `tf.function`'s key) in its first round.
    for pretrainer in pretrainers.values():
        pretrainer.fit(batches, epochs=1, steps_per_epoch=warmup_steps, verbose=0, shuffle=False)
    shares = {name: p.encoder.encoder_config.share for name, p in pretrainers.items()}

    done = dict.fromkeys(pretrainers, 0)

    def timed(name: str) -> Callable[[], float]:
        def measure() -> float:
            clock = _StepClock()
            pretrainers[name].fit(batches, epochs=1, steps_per_epoch=compare.speed_steps,
                                  verbose=0, callbacks=[clock], shuffle=False)
            done[name] += 1
            print(f"[compare] speed round {done[name]}/{compare.speed_rounds} {name}: "
                  f"{real_tokens / clock.seconds():,.0f} tokens/s", flush=True)
            return real_tokens / clock.seconds()
        return measure

    measured = run_rounds({name: timed(name) for name in pretrainers}, compare.speed_rounds)
    device = "GPU" if tf.config.list_physical_devices("GPU") else (
        "TPU" if tf.config.list_physical_devices("TPU") else "CPU")
    return {"steps_per_round": compare.speed_steps, "real_tokens_per_round": real_tokens,
            "precision": precision, "device": device,
            **speed_section(measured, shares, compare.speed_tolerance),
            "load_average_before": load_before, "load_average_after": _load_average(),
            "seconds": time.perf_counter() - started}


def speed_section(measured: dict[str, list[float]], shares: dict[str, str],
                  tolerance: float = 0.0) -> dict[str, Any]:
    """The rounds summarised: per arm median and min-max, per other arm its speed ratio to the
    reference arm, round by round, with the verdict (`utils/rounds.py`).

    Args:
        measured: dict of arm name to its tokens/s, one per round, in round order.
        shares: dict of arm name to its encoder's `share` (`"none"` for BERT).
        tolerance: float. The verdict rule's tolerance. Defaults to 0.0.

    Example:
    ```python
    speed = speed_section({"bert": [100.0, 90.0, 95.0], "albert": [107.0, 104.4, 106.4]},
                          {"bert": "none", "albert": "all"})
    assert speed["ratios"]["albert"]["verdict"] == "faster"  # 1.07, 1.16, 1.12 x bert's
    ```
    """
    names = list(measured)
    rounds = {len(values) for values in measured.values()}
    if len(rounds) != 1:
        raise ValueError(f"Every arm needs the same rounds. Received: "
                         f"{ {name: len(values) for name, values in measured.items()} }")
    reference = next((name for name in names if shares.get(name) == "none"), names[0])
    ratios = {}
    for name in names:
        if name == reference:
            continue
        ratio_rounds = speed_ratios(measured[name], measured[reference], "higher")
        summary = summarize(ratio_rounds)
        ratios[name] = {"a": name, "b": reference, "ratio": "tokens/s of a / tokens/s of b",
                        "speed_ratio_rounds": summary["rounds"], "median": summary["median"],
                        "min": summary["min"], "max": summary["max"], "tolerance": tolerance,
                        "verdict": verdict(ratio_rounds, tolerance)}
    return {"rounds": rounds.pop(), "order": alternated_order(names, len(measured[names[0]])),
            "unit": "tokens/s", "tolerance": tolerance, "verdict_rule": VERDICT_RULE,
            "arms": {name: summarize(values) for name, values in measured.items()},
            "reference": reference, "ratios": ratios}


def with_speed(arm: dict[str, Any], speed: dict[str, Any] | None) -> dict[str, Any]:
    """The arm's report entry with its speed rounds: `tokens_per_second` becomes the median of
    its rounds, its training run's figure moves to `train_tokens_per_second`."""
    rounds = (speed or {}).get("arms", {}).get(arm["name"])
    if rounds is None:
        return arm
    return {**arm, "train_tokens_per_second": arm["tokens_per_second"],
            "tokens_per_second": rounds["median"], "tokens_per_second_rounds": rounds["rounds"],
            "tokens_per_second_min": rounds["min"], "tokens_per_second_max": rounds["max"]}


def _load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


class _StepClock(keras.callbacks.Callback):
    """Times a `fit` call's steps, from the first step's start to the last one's end (its
    results fetched, so an accelerator has finished them); `fit`'s own start and end (making
    and deleting the iterator) are no train step."""

    def __init__(self):
        super().__init__()
        self.begin: float | None = None
        self.end: float | None = None

    def on_train_batch_begin(self, batch, logs=None):
        if self.begin is None:
            self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            float(logs["loss"])  # Waits for the step's results.
        self.end = time.perf_counter()

    def seconds(self) -> float:
        """Seconds from the first step's start to the last one's end."""
        return self.end - self.begin
