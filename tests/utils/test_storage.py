"""`storage.size_bytes`: what a file or a tree takes, the figure compare and disk_space report."""

import os

from albert_keras.utils.storage import size_bytes


def test_size_counts_a_file_a_tree_and_nothing(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "b").write_bytes(b"y" * 7)
    (tmp_path / "sub" / "deeper" / "c").write_bytes(b"")
    assert size_bytes(str(tmp_path / "a")) == 10
    assert size_bytes(str(tmp_path / "sub")) == 7
    assert size_bytes(str(tmp_path)) == 17
    assert size_bytes(str(tmp_path / "missing")) == 0
    assert size_bytes(os.fspath(tmp_path / "sub" / "deeper")) == 0
