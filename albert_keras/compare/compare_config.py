"""`CompareConfig`: the `compare` section of a pipeline — the arms and the budget of a comparison."""

from __future__ import annotations

import dataclasses
import re

from albert_keras.models.model_config import ModelConfig
from albert_keras.utils.rounds import MIN_ROUNDS
from albert_keras.utils.storage import url_scheme

_ARM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclasses.dataclass(frozen=True)
class ArmConfig(ModelConfig):
    """One arm of a comparison: a name, a preset and any `EncoderConfig` field changed, or a
    checkpoint to start from.

    The fields are those of the pipeline's `model` section plus `name` and `pretrain`.
    `vocabulary_size` left unset comes from the tokenizer all arms share.

    Args:
        name: str. The arm's name in the report and its folder (letters, digits, `_.-`).
        preset: str. An `EncoderConfig` preset, e.g. `"albert_tiny"`.
        share, embedding_dim, num_groups, ...: `EncoderConfig` fields that differ from the preset.
        pretrained: str or None. A checkpoint (Hugging Face directory, TF1 checkpoint,
            keras-hub preset, `.keras` file) the arm starts from, with the pretraining heads it
            has (as `pretrain` continues one); its config replaces `preset` and the fields.
            All arms share one tokenizer: the checkpoint's (`data.tokenizer_path` defaults to
            it). Defaults to None: random weights.
        pretrain: bool. Pretrain the arm on the comparison's records. False (with
            `pretrained`) measures and fine-tunes the checkpoint as it is: "the published
            model" beside "the same model adapted here". Defaults to True.

    Example:
    ```python
    bert = ArmConfig(name="bert", preset="albert_tiny", share="none", embedding_dim=256)
    assert bert.encoder_config().share == "none"
    published = ArmConfig(name="published", pretrained="models/bert", pretrain=False)
    assert not published.pretrain
    ```
    """

    name: str = ""
    pretrain: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _ARM_NAME.fullmatch(self.name):
            raise ValueError("`name` must be letters, digits, `_`, `.` or `-` (a folder name). "
                             f"Received: name={self.name!r}")
        if not self.pretrain and not self.pretrained:
            raise ValueError("An arm with `pretrain: false` measures a checkpoint as it is: set "
                             f"`pretrained`. Received: name={self.name!r}, pretrained=None")
        super().__post_init__()


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """How `albert-keras compare` measures its arms; the rest comes from the other sections.

    Every arm is pretrained on the same records (`data`), with the same tokenizer, batch,
    steps, optimizer, schedule and seeds (`train`), then fine-tuned downstream as `finetune`
    says, from its pretrained weights and from random weights (its twin), once per seed.

    Args:
        arms: list of `ArmConfig`. The encoders to compare (at least one; names unique).
        eval_every: int. Steps between held-out evaluations (the learning curve); divides
            `train.steps`. Defaults to 50.
        eval_batches: int. Held-out batches per evaluation. Defaults to 10.
        max_minutes_per_arm: float or None. Stop an arm's pretraining at the first evaluation
            after this many minutes of training (the schedule still spans `train.steps`).
            Defaults to None: every arm runs `train.steps`.
        downstream: bool. Fine-tune each arm and its random-init twin. Defaults to True.
        downstream_seeds: list of int. One pretrained and one random-init run per seed (and
            learning rate); the report gives the paired gain per seed, its median and range,
            and a verdict (`jobs/downstream_protocol.py`). Defaults to `[0, 1, 2, 3, 4]`.
        downstream_workers: int. Fine-tuning runs at once, each in a process of its own with
            an equal share of the CPU cores (small models use one core poorly, and tracing is
            single-threaded). Keep 1 on one accelerator: each process would claim its memory.
            Defaults to 1.
        downstream_examples_per_label: int. Size of the built-in downstream task (used when
            `finetune.train` is null). Defaults to 200.
        latency_iterations: int. Timed raw-text requests per batch size against each arm's
            exported SavedModel. Defaults to 30.
        speed_rounds: int. Once every arm has pretrained, their train steps are timed in one
            fresh process, in this many alternated rounds (A B | B A | A B ...; at least
            `MIN_ROUNDS`, 3): each arm's tokens/s is the median and min-max of its rounds, the
            speed ratio is taken per round (`speed_rounds.py`). Defaults to 3.
        speed_steps: int. Train steps timed per arm and round, on the same batches for every
            arm (after untimed warm-up steps that trace every batch shape). Defaults to 10.
        speed_tolerance: float. The verdict rule's tolerance: "faster" needs every round's
            speed ratio above 1 + tolerance, "slower" every one below 1 - tolerance
            (`albert_keras.utils.rounds.verdict`). Defaults to 0.0.
        output_dir: str. The report goes to `{output_dir}/{pipeline name}/`. Defaults to `"runs"`.
    """

    arms: tuple[ArmConfig, ...] = ()
    eval_every: int = 50
    eval_batches: int = 10
    max_minutes_per_arm: float | None = None
    downstream: bool = True
    downstream_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    downstream_workers: int = 1
    downstream_examples_per_label: int = 200
    latency_iterations: int = 30
    speed_rounds: int = MIN_ROUNDS
    speed_steps: int = 10
    speed_tolerance: float = 0.0
    output_dir: str = "runs"

    def __post_init__(self) -> None:
        names = [arm.name for arm in self.arms]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"`compare.arms` names must be unique. Received: repeated "
                             f"name(s) {repeated} in {names}")
        for name in ("eval_every", "eval_batches", "downstream_examples_per_label",
                     "downstream_workers", "latency_iterations", "speed_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`compare.{name}` must be a positive integer. "
                                 f"Received: compare.{name}={value!r}")
        rounds = self.speed_rounds
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < MIN_ROUNDS:
            raise ValueError(f"`compare.speed_rounds` must be an integer of at least {MIN_ROUNDS} "
                             "(fewer rounds cannot conclude). Received: "
                             f"compare.speed_rounds={rounds!r}")
        tolerance = self.speed_tolerance
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
                or not 0 <= tolerance < 1:
            raise ValueError("`compare.speed_tolerance` must be a number in [0, 1). Received: "
                             f"compare.speed_tolerance={tolerance!r}")
        if self.max_minutes_per_arm is not None and not self.max_minutes_per_arm > 0:
            raise ValueError("`compare.max_minutes_per_arm` must be positive or null. "
                             f"Received: compare.max_minutes_per_arm={self.max_minutes_per_arm!r}")
        if self.downstream and not self.downstream_seeds:
            raise ValueError("`compare.downstream_seeds` must name at least one seed when "
                             "compare.downstream is true. Received: compare.downstream_seeds=[]")
        if len(set(self.downstream_seeds)) != len(self.downstream_seeds):
            raise ValueError("`compare.downstream_seeds` must be distinct. Received: "
                             f"compare.downstream_seeds={list(self.downstream_seeds)}")


def arm_checkpoints(compare: CompareConfig) -> list[str]:
    """The checkpoints the arms start from, in arm order, each once."""
    return list(dict.fromkeys(arm.pretrained for arm in compare.arms if arm.pretrained))


def check_compare_pipeline(config) -> None:
    """Checks a pipeline's `compare` section against its other sections (before any work)."""
    compare, train, data = config.compare, config.train, config.data
    if not compare.arms:
        raise ValueError("`compare.arms` must list at least one arm, e.g. "
                         "[{name: bert, preset: bert_tiny}, {name: albert, preset: albert_tiny}]. "
                         "Received: compare.arms=[]")
    if train.steps % compare.eval_every:
        raise ValueError("`compare.eval_every` must divide `train.steps`. Received: "
                         f"compare.eval_every={compare.eval_every}, train.steps={train.steps}")
    if not data.held_out_fraction > 0:
        raise ValueError("A comparison scores every arm on pairs from documents never trained "
                         "on: set `data.held_out_fraction` > 0 (e.g. 0.05). Received: "
                         f"data.held_out_fraction={data.held_out_fraction}")
    if train.strategy != "default" and train.strategy != "mirrored":
        raise ValueError("`compare` runs its arms one after another on this machine: "
                         "train.strategy must be 'default' or 'mirrored'. Received: "
                         f"train.strategy={train.strategy!r}")
    if config.model.pretrained:
        raise ValueError("`compare` builds each arm from its own settings; `model.pretrained` "
                         "is not used (give an arm `pretrained:`). Received: "
                         f"model.pretrained={config.model.pretrained!r}")
    for index, arm in enumerate(compare.arms):
        if arm.pretrained:
            continue  # The checkpoint's own length, checked when it is loaded.
        length = arm.encoder_config().max_sequence_length
        if length < data.max_sequence_length:
            raise ValueError(
                f"`compare.arms[{index}].max_sequence_length` must be at least "
                f"data.max_sequence_length={data.max_sequence_length}. Received: "
                f"compare.arms[{index}] ({arm.name}) max_sequence_length={length}")
        if compare.downstream and length < config.finetune.max_sequence_length:
            raise ValueError(
                f"`compare.arms[{index}].max_sequence_length` must be at least "
                f"finetune.max_sequence_length={config.finetune.max_sequence_length}. "
                f"Received: compare.arms[{index}] ({arm.name}) max_sequence_length={length}")
    ft = config.finetune
    if compare.downstream and ft.train and len(ft.grid()) > 1 and not ft.test:
        raise ValueError(
            "A learning-rate grid is chosen on validation rows and scored on a test split never "
            f"used for choosing: set finetune.test. Received: finetune.test={ft.test!r}, "
            f"finetune.learning_rates={list(ft.learning_rates)}")
    if compare.downstream and not config.finetune.train \
            and config.finetune.task != "text_classification":
        raise ValueError("Without `finetune.train`, `compare` scores the built-in downstream "
                         "task, a text classification; give data for the other task. Received: "
                         f"finetune.task={config.finetune.task!r}, finetune.train=None")


def check_compare_paths(config) -> None:
    """Refuses a `ram://` URL for the paths a comparison's arm processes read or write
    (`compare.output_dir`, `data.output_dir`, the arms' checkpoints and, with downstream runs,
    the labelled files): `ram://` holds files for one process only, so an arm would find none
    of them. A shared store (`gs://`, `file://`, a local path) is fine.

    Raises:
        ValueError: naming the setting and the value received.
    """
    ft = config.finetune
    paths = [("compare.output_dir", config.compare.output_dir),
             ("data.output_dir", config.data.output_dir)]
    paths += [(f"compare.arms[{index}].pretrained", arm.pretrained)
              for index, arm in enumerate(config.compare.arms)]
    if config.compare.downstream:
        paths += [("finetune.train", ft.train), ("finetune.validation", ft.validation),
                  ("finetune.test", ft.test)]
    for key, path in paths:
        if path and url_scheme(path) == "ram":
            raise ValueError(
                f"`{key}` is a ram:// URL, but `albert-keras compare` runs each arm in a "
                f"process of its own and ram:// holds files for one process only: give a local "
                f"path or a shared store (gs://, file://, ...). Received: {key}={path!r}")
