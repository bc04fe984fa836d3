import os

import pytest

from albert_keras.utils.output_directory import write_output_directory


def _write(files):
    def write(path):
        os.makedirs(path)
        for name, text in files.items():
            if text is None:
                raise RuntimeError("killed half-way")
            with open(os.path.join(path, name), "w") as f:
                f.write(text)
    return write


def test_a_failed_write_keeps_the_previous_directory_and_the_rerun_finishes(tmp_path):
    target = str(tmp_path / "export")
    write_output_directory(target, _write({"model": "good"}), overwrite=False, command="export")
    with pytest.raises(RuntimeError, match="half-way"):
        write_output_directory(target, _write({"model": "new", "tokenizer": None}),
                               overwrite=True, command="export")
    assert sorted(os.listdir(tmp_path)) == ["export"]  # Nothing half-written left beside it.
    assert (tmp_path / "export" / "model").read_text() == "good"
    # A writer killed with -9 leaves its temporary: the next run removes it and finishes.
    os.makedirs(tmp_path / ".partial-export.999999")
    write_output_directory(target, _write({"model": "new"}), overwrite=True, command="export")
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert (tmp_path / "export" / "model").read_text() == "new"


def test_an_existing_directory_is_not_replaced_unasked(tmp_path):
    (tmp_path / "export").mkdir()
    with pytest.raises(FileExistsError, match="albert-keras convert --overwrite"):
        write_output_directory(str(tmp_path / "export"), _write({}), overwrite=False,
                               command="convert")
