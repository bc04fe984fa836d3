"""Record sets on a URL (`ram://` standing in for `gs://`) are published by their manifest,
written last: a second `prepare` or a retried Beam job that is killed never leaves a set that
`pretrain` accepts, and the next run publishes a whole one."""

import dataclasses
import json
import os

import pytest

from albert_keras.pipeline import pipeline_from_dict
from albert_keras.utils import file_io
from tests.helpers import tiny_pretraining_config

BEAM_OPTIONS = ["runner=FnApiRunner", "direct_running_mode=in_memory"]


def _config(tmp_path, ram_dir, runner):
    raw = tiny_pretraining_config(tmp_path)
    raw["data"].update(output_dir=f"{ram_dir}/records", runner=runner,
                       beam_options=BEAM_OPTIONS, held_out_fraction=0.25)
    raw["train"]["output_dir"] = f"{ram_dir}/runs"
    return pipeline_from_dict(raw)


def _accepted(config):
    """What `pretrain` checks before any training (raises when it refuses the records)."""
    from albert_keras.jobs.pretrain_records import checked_records

    return checked_records(config)


@pytest.mark.parametrize("runner", ["local", "beam"])
def test_a_killed_rewrite_is_refused_and_the_next_one_is_whole(tmp_path, ram_dir, runner,
                                                               monkeypatch):
    from albert_keras.pretraining_data.prepare import prepare

    config = _config(tmp_path, ram_dir, runner)
    records = f"{ram_dir}/records/tiny"
    prepare(config, progress=False)
    first = file_io.read_text(f"{records}/manifest.json")
    assert _accepted(config).pattern == f"{records}/*.tfrecord*"

    # Killed while the new set is staged: the published set stays as it was, still accepted.
    stage = "albert_keras.pretraining_data.runners.beam_pipeline.run" if runner == "beam" \
        else "albert_keras.pretraining_data.records.writer.write_shards"
    with monkeypatch.context() as patch:
        patch.setattr(stage, _killed)
        with pytest.raises(KeyboardInterrupt):
            prepare(config, progress=False)
    assert file_io.read_text(f"{records}/manifest.json") == first
    _accepted(config)

    # Killed while the new set is moved in, file by file: no manifest, refused by name.
    rename, moved = file_io.rename, []

    def killed_after_three(source, destination):
        if ".partial-" not in destination:  # Out of the staged set, into the published one.
            if len(moved) == 3:
                raise KeyboardInterrupt("killed")
            moved.append(os.path.basename(destination))
        rename(source, destination)

    with monkeypatch.context() as patch:
        patch.setattr(file_io, "rename", killed_after_three)
        with pytest.raises(KeyboardInterrupt):
            prepare(config, progress=False)
    assert len(moved) == 3 and "manifest.json" not in moved
    assert not file_io.exists(f"{records}/manifest.json")
    with pytest.raises(ValueError, match=r"No manifest.json in ram://.*a `prepare` that did "
                                         r"not finish"):
        _accepted(config)

    prepare(config, progress=False)  # The retry publishes a whole set again.
    found = _accepted(config)
    manifest = json.loads(file_io.read_text(f"{records}/manifest.json"))
    assert manifest["runner"] == runner and manifest["held_out"]["sequences"] > 0
    assert sorted(os.path.basename(p) for p in file_io.glob(found.pattern)) == \
        [entry["file"] for entry in manifest["shard_files"]]
    assert file_io.isfile(f"{records}/held_out/manifest.json")


def test_shards_the_manifest_does_not_list_are_refused(tmp_path, ram_dir):
    from albert_keras.pretraining_data.prepare import prepare

    config = _config(tmp_path, ram_dir, "local")
    prepare(config, progress=False)
    records = f"{ram_dir}/records/tiny"
    file_io.copy(f"{records}/pretraining-00000-of-00002.tfrecord",
                 f"{records}/pretraining-00000-of-00003.tfrecord")
    with pytest.raises(ValueError, match=r"not the ones its manifest.json lists.*not listed "
                                         r"\['pretraining-00000-of-00003.tfrecord'\]"):
        _accepted(config)


def _killed(*args, **kwargs):
    raise KeyboardInterrupt("killed")


def test_a_ram_output_is_refused_for_beam_worker_processes(tmp_path, ram_dir):
    from albert_keras.pretraining_data.prepare import prepare

    config = _config(tmp_path, ram_dir, "beam")
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, beam_options=("runner=FnApiRunner", "direct_running_mode=multi_processing")))
    with pytest.raises(ValueError, match=r"`data.output_dir` is a ram:// URL, which lives in one "
                                         r"process.*Received: data.output_dir='ram://"):
        prepare(config, progress=False)
    assert not file_io.exists(f"{ram_dir}/records")
