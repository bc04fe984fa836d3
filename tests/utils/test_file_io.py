"""The file layer: the same calls for local paths and URLs (`ram://` stands in for a bucket),
URLs of unknown schemes refused by name, and the publishing rules on URLs."""

import json
import os

import pytest

from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_atomic, write_json_atomic
from albert_keras.utils.published_run import RUN_RECORD, publish_run, published_record
from albert_keras.utils.run_lock import RunLock
from albert_keras.utils.storage import check_path, size_bytes, url_scheme


@pytest.fixture(params=["local", "ram"])
def root(request, tmp_path, ram_dir):
    return str(tmp_path) if request.param == "local" else ram_dir


def test_the_same_operations_work_on_local_paths_and_urls(root):
    folder = os.path.join(root, "a", "b")
    file_io.makedirs(folder)
    file_io.write_text(os.path.join(folder, "x.txt"), "héllo")
    file_io.write_bytes(os.path.join(folder, "y.bin"), b"\0\1")
    assert file_io.isdir(folder) and file_io.isfile(os.path.join(folder, "x.txt"))
    assert not file_io.isdir(os.path.join(folder, "x.txt"))
    assert file_io.listdir(folder) == ["x.txt", "y.bin"]
    assert file_io.glob(os.path.join(root, "a", "*", "*.txt")) == [os.path.join(folder, "x.txt")]
    assert file_io.read_text(os.path.join(folder, "x.txt")) == "héllo"
    assert file_io.size(os.path.join(folder, "y.bin")) == 2
    file_io.rename(os.path.join(folder, "y.bin"), os.path.join(folder, "x.txt"))
    assert file_io.read_bytes(os.path.join(folder, "x.txt")) == b"\0\1"
    file_io.copy_tree(os.path.join(root, "a"), os.path.join(root, "c"))
    assert file_io.read_bytes(os.path.join(root, "c", "b", "x.txt")) == b"\0\1"
    assert size_bytes(os.path.join(root, "c")) == 2
    file_io.remove(os.path.join(root, "a"))
    file_io.remove(os.path.join(root, "missing"))
    assert not file_io.exists(os.path.join(root, "a")) and file_io.exists(os.path.join(root, "c"))


def test_urls_of_an_installed_file_system_pass_and_others_are_refused_by_name(tmp_path):
    for path in ("ram://bucket/x", "gs://bucket/x", str(tmp_path / "x"), "relative/x", None):
        check_path("data.output_dir", path)  # Nothing is read: no network for gs://.
    with pytest.raises(ValueError, match=r"`data.output_dir` is a foo:// URL, but no installed "
                                         r"file system handles foo:// .*gs://.*ram://.*"
                                         r"Received: data.output_dir='foo://b/x'"):
        check_path("data.output_dir", "foo://b/x")
    assert url_scheme("GS://b") == "gs" and url_scheme("C:/x") is None


def test_a_url_file_is_replaced_whole_and_no_temporary_stays(ram_dir):
    path = os.path.join(ram_dir, "runs", "summary.json")
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(file_io.read_text(path)) == {"a": 2}
    assert file_io.listdir(os.path.join(ram_dir, "runs")) == ["summary.json"]


def test_a_url_directory_is_published_by_its_last_file(ram_dir):
    target = os.path.join(ram_dir, "records")

    def write(shards, fail=False):
        def write_into(directory):
            for shard in shards:
                file_io.makedirs(os.path.join(directory, "sub"))
                file_io.write_text(os.path.join(directory, shard), shard)
                file_io.write_text(os.path.join(directory, "sub", shard), shard)
            if fail:
                raise OSError("killed")
            file_io.write_text(os.path.join(directory, "manifest.json"), json.dumps(shards))
        return write_into

    write_atomic(target, write(["a", "b"]), last=("manifest.json",))
    assert file_io.listdir(target) == ["a", "b", "manifest.json", "sub"]
    with pytest.raises(OSError, match="killed"):  # Killed while staging: the old set stays.
        write_atomic(target, write(["c"], fail=True), last=("manifest.json",))
    assert file_io.listdir(target) == ["a", "b", "manifest.json", "sub"]
    assert file_io.listdir(ram_dir) == ["records"]  # The staged copy is gone.
    write_atomic(target, write(["c"]), last=("manifest.json",))
    assert file_io.listdir(target) == ["c", "manifest.json", "sub"]
    assert file_io.listdir(os.path.join(target, "sub")) == ["c"]


def test_a_url_directory_killed_while_moving_in_has_no_manifest(ram_dir, monkeypatch):
    target = os.path.join(ram_dir, "records")

    def write(directory):
        for name in ("a", "manifest.json"):
            file_io.write_text(os.path.join(directory, name), name)

    write_atomic(target, write, last=("manifest.json",))
    moved = []
    rename = file_io.rename

    def killed_after_first(source, destination):
        if moved:
            raise KeyboardInterrupt("killed")
        moved.append(destination)
        rename(source, destination)

    monkeypatch.setattr(file_io, "rename", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, write, last=("manifest.json",))
    assert moved == [os.path.join(target, "a")]  # The manifest goes last: none is there.
    assert file_io.listdir(target) == ["a"]


def test_a_url_place_is_not_locked_and_a_local_one_is(tmp_path, ram_dir):
    with RunLock(os.path.join(ram_dir, "runs", "x")) as lock:
        assert lock.path is None and not file_io.exists(os.path.join(ram_dir, "runs"))
    with RunLock(str(tmp_path / "runs" / "x")) as lock:
        assert os.path.exists(lock.path)


def test_a_url_run_is_published_by_its_record_written_last(ram_dir):
    run_dir = os.path.join(ram_dir, "runs", "tiny")
    file_io.makedirs(os.path.join(run_dir, "backup"))
    file_io.write_text(os.path.join(run_dir, "backup", "keep"), "kept")

    def outputs(names):
        def write(staging):
            for name in names:
                if name == "tokenizer":
                    file_io.makedirs(os.path.join(staging, name))
                    file_io.write_text(os.path.join(staging, name, "vocab.txt"), "v")
                else:
                    file_io.write_text(os.path.join(staging, name), name)
        return write

    assert publish_run(run_dir, outputs(["model.keras", "tokenizer", "old.json"]),
                       {"job": "pretrain"}) == run_dir
    publish_run(run_dir, outputs(["model.keras", "tokenizer"]), {"job": "pretrain", "v": 2})
    assert file_io.listdir(run_dir) == ["backup", "model.keras", RUN_RECORD, "tokenizer"]
    record, path = published_record(os.path.join(run_dir, "model.keras"))
    assert record == {"job": "pretrain", "v": 2, "outputs": ["model.keras", "tokenizer"]}
    assert path == os.path.join(run_dir, RUN_RECORD)
    assert file_io.read_text(os.path.join(run_dir, "tokenizer", "vocab.txt")) == "v"



def test_unreadable_url_raises_os_errors_as_local_paths_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="ram://nowhere/x.json"):
        file_io.read_text("ram://nowhere/x.json")
    with pytest.raises(FileNotFoundError):
        file_io.read_text(str(tmp_path / "x.json"))
