"""Bad comparison configs fail when loaded, before any work, naming the key and the value."""

import dataclasses
import os

import pytest

from albert_keras.compare import ArmConfig, compare
from albert_keras.pipeline import ConfigError, load_pipeline, pipeline_from_dict

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
COMPARE_YAML = os.path.join(REPO, "pipelines", "compare.yaml")
ARMS = [{"name": "bert", "preset": "albert_tiny", "share": "none", "embedding_dim": 256},
        {"name": "albert", "preset": "albert_tiny"}]


def _pipeline(arms=ARMS, **sections):
    raw = {"name": "c", "compare": {"arms": arms},
           "data": {"held_out_fraction": 0.05},
           "train": {"steps": 100, "steps_per_epoch": 50, "warmup_steps": 10}}
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return pipeline_from_dict(raw)


def test_the_default_file_loads_with_two_fair_arms():
    config = load_pipeline(COMPARE_YAML)
    bert, albert = config.compare.arms
    assert (bert.name, albert.name) == ("bert", "albert")
    bert_config, albert_config = bert.encoder_config(), albert.encoder_config()
    assert bert_config.share == "none" and bert_config.effective_embedding_dim == 256
    assert albert_config.share == "all" and albert_config.effective_embedding_dim == 128
    # The arms differ in sharing and embedding width only.
    same = {k: v for k, v in bert_config.to_dict().items() if k not in ("share", "embedding_dim")}
    assert same == {k: v for k, v in albert_config.to_dict().items()
                    if k not in ("share", "embedding_dim")}
    assert config.data.held_out_fraction > 0 and config.train.steps % config.compare.eval_every == 0


def test_arm_keys_and_values_are_checked_by_name():
    with pytest.raises(ConfigError, match=r"compare\.arms\[1\]\.shar\b"):
        _pipeline([ARMS[0], {"name": "albert", "preset": "albert_tiny", "shar": "all"}])
    with pytest.raises(ConfigError, match=r"compare\.arms\[1\].*share.*'most'"):
        _pipeline([ARMS[0], {"name": "albert", "preset": "albert_tiny", "share": "most"}])
    with pytest.raises(ConfigError, match=r"compare\.arms\[0\].*preset.*albert_huge"):
        _pipeline([{"name": "x", "preset": "albert_huge"}])
    with pytest.raises(ConfigError, match=r"compare\.arms\[0\].*hidden_dim.*num_heads"):
        _pipeline([{"name": "x", "preset": "albert_tiny", "hidden_dim": 250}])
    with pytest.raises(ConfigError, match=r"name='bad name'"):
        _pipeline([{"name": "bad name", "preset": "albert_tiny"}])
    with pytest.raises(ConfigError, match=r"`pretrain: false`.*name='a', pretrained=None"):
        _pipeline([{"name": "a", "preset": "albert_tiny", "pretrain": False}])
    # Arms from a checkpoint: the records default to its tokenizer.
    config = _pipeline([{"name": "a", "pretrained": "x/bert", "pretrain": False},
                        {"name": "b", "pretrained": "x/bert"}, ARMS[0]])
    assert config.data.tokenizer_path == "x/bert"
    assert [arm.pretrain for arm in config.compare.arms] == [False, True, True]
    with pytest.raises(ConfigError, match=r"repeated name\(s\) \['bert'\]"):
        _pipeline([ARMS[0], ARMS[0]])


def test_budget_and_sections_are_checked_against_each_other():
    with pytest.raises(ConfigError, match=r"compare.eval_every=30, train.steps=100"):
        _pipeline(compare={"arms": ARMS, "eval_every": 30})
    with pytest.raises(ConfigError, match=r"data.held_out_fraction=0.0"):
        _pipeline(data={"held_out_fraction": 0.0})
    with pytest.raises(ConfigError, match=r"compare\.arms\[1\].*max_sequence_length=64"):
        _pipeline([ARMS[0], {"name": "short", "preset": "albert_tiny",
                             "max_sequence_length": 64}])
    with pytest.raises(ConfigError, match=r"train.strategy='multi_worker'"):
        _pipeline(train={"strategy": "multi_worker"})
    with pytest.raises(ConfigError, match=r"finetune.task='span_extraction'"):
        _pipeline(finetune={"task": "span_extraction", "max_query_length": 32})
    with pytest.raises(ConfigError, match=r"finetune.task='span_extraction', finetune.train=None"):
        _pipeline(finetune={"task": "span_extraction", "max_query_length": 32})
    # With its own data, any task scores the arms downstream (by its `score_name`).
    assert _pipeline(finetune={"task": "span_extraction", "max_query_length": 32,
                               "train": "squad.jsonl", "validation_fraction": 0.1},
                     ).finetune.task == "span_extraction"
    with pytest.raises(ConfigError, match=r"compare.downstream_seeds=\[\]"):
        _pipeline(compare={"arms": ARMS, "downstream_seeds": []})
    with pytest.raises(ConfigError, match=r"compare.eval_batches=0"):
        _pipeline(compare={"arms": ARMS, "eval_batches": 0})


def test_no_arms_fails_before_any_work(tmp_path):
    config = pipeline_from_dict({"name": "c", "data": {"output_dir": str(tmp_path / "records")},
                                 "compare": {"output_dir": str(tmp_path / "runs")}})
    with pytest.raises(ValueError, match=r"compare.arms=\[\]"):
        compare(config, progress=False)
    assert not os.listdir(tmp_path)


def test_an_arm_is_a_model_section_with_a_name():
    arm = ArmConfig(name="two_groups", preset="albert_tiny", num_groups=2)
    assert arm.encoder_config(vocabulary_size=100).num_groups == 2
    assert arm.encoder_config(vocabulary_size=100).vocabulary_size == 100


def test_each_task_names_the_score_compare_ranks_arms_by():
    from albert_keras.tasks.registry import TASKS, task_named

    config = _pipeline().finetune
    scores = {name: task_named(name).score_name(config) for name in TASKS}
    assert scores == {"text_classification": "accuracy", "token_classification": "token_accuracy",
                      "span_extraction": "f1"}
    multi_label = dataclasses.replace(config, multi_label=True)
    assert task_named("text_classification").score_name(multi_label) == "micro_f1"
