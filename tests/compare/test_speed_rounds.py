"""The speed rounds: the arms' train steps timed in alternated rounds, their summary and reuse.

The measurement runs here in the test's process on tiny arms and records (the arms of the
other compare tests); the comparison launches it in a process of its own, stood in for below.
"""

import json
import os
import random

import pytest

from albert_keras.compare import arm_process, speed_rounds
from albert_keras.pipeline import ConfigError, load_pipeline
from albert_keras.utils.rounds import VERDICT_RULE
from tests.helpers.compare_runs import COMPARE_YAML, TWO_ARMS, tiny_compare_overrides

MANIFEST = {"sequences": 10, "seconds": 1.5}


def _config(tmp_path, **changes):
    overrides = tiny_compare_overrides(tmp_path, **{
        "name": "speed", "compare.arms": TWO_ARMS, "data.length_buckets": "[16]",
        "train.steps": 10, "compare.speed_steps": 3, **changes})
    return load_pipeline(COMPARE_YAML, [f"{k}={v}" for k, v in overrides.items()])


def _write_corpus(path, documents=40, sentences=8, seed=0):
    """A small BERT-format corpus (a blank line between documents) of seeded word salad."""
    rng = random.Random(seed)
    words = [f"{stem}{ending}" for stem in ("time", "step", "arm", "round", "model", "token",
                                            "batch", "layer", "speed", "share")
             for ending in ("", "s", "ed", "ing", "er")]
    text = "\n\n".join("\n".join(" ".join(rng.choices(words, k=rng.randint(6, 14))) + "."
                                  for _ in range(sentences)) for _ in range(documents))
    path.write_text(text + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Tiny records and tokenizer, as `compare` prepares them."""
    from albert_keras.jobs.task_corpus import prepare_records
    from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

    tmp_path = tmp_path_factory.mktemp("speed")
    config = _config(tmp_path, **{"data.corpus": _write_corpus(tmp_path / "corpus.txt"),
                                  "data.vocabulary_size": 64})
    prepare_records(config, progress=False)
    directory = os.path.join(config.data.output_dir, config.name)
    return config, directory, os.path.join(directory, TOKENIZER_DIR)


def test_tiny_arms_are_timed_in_alternated_rounds(records, capsys):
    config, directory, tokenizer = records
    speed = speed_rounds.measure_speed(config, directory, tokenizer)
    assert speed["rounds"] == 3 and speed["steps_per_round"] == 3
    assert speed["order"] == [["bert", "albert"], ["albert", "bert"], ["bert", "albert"]]
    assert speed["unit"] == "tokens/s" and speed["verdict_rule"] == VERDICT_RULE
    # Real tokens only: 3 steps of 4 sequences of at most 32 tokens, padding not counted.
    assert 0 < speed["real_tokens_per_round"] <= 3 * 4 * 32
    for name in ("bert", "albert"):
        arm = speed["arms"][name]
        assert len(arm["rounds"]) == 3 and all(v > 0 for v in arm["rounds"])
        assert arm["min"] <= arm["median"] <= arm["max"]
    assert speed["reference"] == "bert" and list(speed["ratios"]) == ["albert"]
    ratio = speed["ratios"]["albert"]
    assert (ratio["a"], ratio["b"]) == ("albert", "bert")
    assert ratio["speed_ratio_rounds"] == pytest.approx(
        [a / b for a, b in zip(speed["arms"]["albert"]["rounds"], speed["arms"]["bert"]["rounds"])])
    assert ratio["verdict"] in ("faster", "slower", "cannot conclude")
    assert len(speed["load_average_before"]) == 3 and speed["seconds"] > 0
    printed = capsys.readouterr().out
    assert "[compare] speed round 1/3 bert: " in printed
    assert "[compare] speed round 2/3 albert: " in printed


def test_the_section_gives_each_ratio_per_round_and_the_verdict():
    measured = {"albert": [107.0, 104.4, 106.4], "bert": [100.0, 90.0, 95.0],
                "ffn": [90.0, 95.0, 96.0]}
    speed = speed_rounds.speed_section(measured, {"albert": "all", "bert": "none", "ffn": "ffn"},
                                       tolerance=0.0)
    assert speed["reference"] == "bert"  # The arm that shares nothing, wherever it is.
    assert speed["order"] == [["albert", "bert", "ffn"], ["ffn", "bert", "albert"],
                              ["albert", "bert", "ffn"]]
    albert = speed["ratios"]["albert"]
    assert albert["speed_ratio_rounds"] == pytest.approx([1.07, 1.16, 1.12])
    assert (albert["median"], albert["verdict"]) == (pytest.approx(1.12), "faster")
    assert speed["ratios"]["ffn"]["verdict"] == "cannot conclude"  # 0.90, 1.06, 1.01
    strict = speed_rounds.speed_section(measured, {"albert": "all", "bert": "none"}, 0.1)
    assert strict["ratios"]["albert"]["verdict"] == "cannot conclude"  # 1.07 is within 10%.
    assert speed_rounds.speed_section({"a": [1.0, 2.0, 3.0]}, {"a": "all"})["ratios"] == {}
    with pytest.raises(ValueError, match="same rounds"):
        speed_rounds.speed_section({"a": [1.0, 2.0, 3.0], "b": [1.0]}, {})


def test_an_arm_entry_takes_the_median_and_keeps_its_training_figure():
    speed = {"arms": {"albert": {"rounds": [3.0, 1.0, 2.0], "median": 2.0, "min": 1.0,
                                 "max": 3.0}}}
    arm = speed_rounds.with_speed({"name": "albert", "tokens_per_second": 7.0}, speed)
    assert arm == {"name": "albert", "tokens_per_second": 2.0, "train_tokens_per_second": 7.0,
                   "tokens_per_second_rounds": [3.0, 1.0, 2.0], "tokens_per_second_min": 1.0,
                   "tokens_per_second_max": 3.0}
    untimed = {"name": "published", "tokens_per_second": float("nan")}
    assert speed_rounds.with_speed(untimed, speed) is untimed
    assert speed_rounds.with_speed(untimed, None) is untimed


def test_rounds_measured_with_the_same_settings_are_kept(tmp_path, monkeypatch, capsys):
    config = _config(tmp_path)
    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    launched = []

    def run_in_child(function, args, name):  # The speed process, as it ends.
        assert name == "speed-rounds"
        *_, path, digest = args
        launched.append(name)
        with open(path, "w") as f:
            json.dump({"settings_sha256": digest, "speed": {"rounds": len(launched)}}, f)
        return 0

    monkeypatch.setattr(arm_process, "run_in_child", run_in_child)
    measure = lambda config, manifest=MANIFEST: speed_rounds.speed_in_process(  # noqa: E731
        config, "records", "tokenizer", run_dir, manifest)
    assert measure(config) == {"rounds": 1}
    # Kept: the same settings (the records' preparation time is no setting).
    assert measure(config, {**MANIFEST, "seconds": 9.0}) == {"rounds": 1}
    assert "speed rounds: measured before with the same settings" in capsys.readouterr().out
    assert measure(_config(tmp_path, **{"compare.speed_steps": 4})) == {"rounds": 2}
    assert "speed rounds: measuring again (settings changed)" in capsys.readouterr().out
    assert launched == ["speed-rounds"] * 2
    # Nothing to time when no arm pretrains.
    monkeypatch.setattr(speed_rounds, "speed_settings", None)
    published = _config(tmp_path, **{"compare.arms": "[{name: p, pretrained: x/bert, "
                                                     "pretrain: false}]"})
    assert measure(published) is None


def test_failed_rounds_are_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(arm_process, "run_in_child", lambda *args, **kwargs: -9)
    with pytest.raises(RuntimeError, match=r"speed rounds failed \(exit code -9\)"):
        speed_rounds.speed_in_process(_config(tmp_path), "records", "tokenizer", str(tmp_path))


@pytest.mark.parametrize("key, value, message", [
    ("speed_rounds", 2, r"compare\.speed_rounds=2"),
    ("speed_rounds", "three", r"compare\.speed_rounds='three'"),
    ("speed_steps", 0, r"compare\.speed_steps=0"),
    ("speed_tolerance", -0.1, r"compare\.speed_tolerance=-0\.1"),
    ("speed_tolerance", 1.5, r"compare\.speed_tolerance=1\.5"),
])
def test_bad_speed_settings_fail_when_loaded(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, **{f"compare.{key}": value})
    assert not os.path.exists(tmp_path / "records")  # Before any work.
