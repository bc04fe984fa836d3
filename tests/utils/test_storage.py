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


def test_size_counts_a_file_a_tree_and_nothing_on_a_url():
    import uuid

    from albert_keras.utils import file_io

    root = f"ram://size-{uuid.uuid4().hex}"
    try:
        file_io.write_bytes(f"{root}/a", b"x" * 10)
        file_io.write_bytes(f"{root}/sub/b", b"y" * 7)
        file_io.write_bytes(f"{root}/sub/deeper/c", b"")
        file_io.write_bytes(f"{root}/subway", b"z" * 3)  # Shares `sub` as a prefix, not a folder.
        assert size_bytes(f"{root}/a") == 10
        assert size_bytes(f"{root}/sub") == 7
        assert size_bytes(f"{root}/sub/deeper") == 0
        assert size_bytes(root) == 20
        assert size_bytes(f"{root}/missing") == 0
    finally:
        file_io.remove(root)
    assert size_bytes(root) == 0
