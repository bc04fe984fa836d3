import collections

import pytest
import tensorflow as tf

from albert_keras.pretraining_data.corpus import (PYDOCS_PACKAGES, package_files, pydocs_versions,
                                                  read_documents)


def _write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_bert_format_files_and_globs(tmp_path):
    _write(tmp_path / "a.txt", b"First sentence.\nSecond one.\n\n\nOther document.\n")
    _write(tmp_path / "b.txt", b"  Spaced   out   line.  \n\nLast.")
    stats = collections.Counter()
    documents = list(read_documents(str(tmp_path / "*.txt"), stats))
    assert documents == [["First sentence.", "Second one."], ["Other document."],
                         ["Spaced out line."], ["Last."]]
    assert stats["files"] == 2 and stats["documents"] == 4 and stats["sentences"] == 5
    two_patterns = list(read_documents(f"{tmp_path}/a.txt, {tmp_path}/b.txt"))
    assert two_patterns == documents
    assert list(read_documents(str(tmp_path / "*.txt"), max_documents=2)) == documents[:2]


def test_missing_files_raise_an_error_naming_the_pattern(tmp_path):
    pattern = str(tmp_path / "nothing-*.txt")
    with pytest.raises(FileNotFoundError, match="nothing-"):
        list(read_documents(pattern))
    _write(tmp_path / "real.txt", b"Some text.\n")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        list(read_documents(f"{tmp_path}/real.txt,{tmp_path}/missing.txt"))


def test_empty_files_skipped_and_invalid_utf8_replaced_and_counted(tmp_path):
    _write(tmp_path / "1-empty.txt", b"")
    _write(tmp_path / "2-blank.txt", b"\n  \n\t\n")
    _write(tmp_path / "3-bad.txt", b"good line\ncaf\xe9 au lait \xff\nfine\n\nnext doc \xc3\n")
    stats = collections.Counter()
    documents = list(read_documents(str(tmp_path / "*.txt"), stats))
    assert documents == [["good line", "caf\ufffd au lait \ufffd", "fine"], ["next doc \ufffd"]]
    assert stats["empty_files"] == 2 and stats["invalid_utf8_lines"] == 2
    assert stats["files"] == 3 and stats["documents"] == 2


def test_stdlib_corpus_is_english_prose(stdlib_documents):
    stats = collections.Counter()
    documents = list(read_documents("stdlib", stats))
    assert len(documents) > 200 and stats["sentences"] > 10_000
    assert documents[:60] == stdlib_documents  # Same order every time.
    words = collections.Counter(w.lower() for d in documents for s in d for w in s.split())
    assert words["the"] > 5_000 and words["is"] > 1_000
    assert not any(s.startswith(">>>") for d in documents for s in d)


def test_package_files_leave_tests_out_and_name_a_missing_package():
    files = package_files("keras")
    assert len(files) > 100 and files == sorted(files)
    assert not any("/test" in f.split("keras", 1)[1] or f.endswith("_test.py") for f in files)
    with pytest.raises(ModuleNotFoundError, match="'no_such_package_here'"):
        package_files("no_such_package_here")
    versions = pydocs_versions()
    assert set(versions) == {"python", *PYDOCS_PACKAGES}
    assert versions["tensorflow"] == tf.__version__


@pytest.mark.large
def test_pydocs_is_the_stdlib_corpus_then_much_more_english():
    stdlib_stats, pydocs_stats = collections.Counter(), collections.Counter()
    stdlib = list(read_documents("stdlib", stdlib_stats))
    pydocs = list(read_documents("pydocs", pydocs_stats))
    assert pydocs[:len(stdlib)] == stdlib
    extra = pydocs[len(stdlib):]
    words = sum(len(s.split()) for d in extra for s in d)
    assert words > 5 * sum(len(s.split()) for d in stdlib for s in d)
    assert any(s.startswith("The ") and "statement" in s for d in extra[:100] for s in d)
    counts = collections.Counter(w.lower() for d in extra for s in d for w in s.split())
    assert counts["the"] > 50_000 and counts["tensor"] > 1_000
    assert pydocs_stats["files"] == stdlib_stats["files"] + sum(
        len(package_files(p)) for p in PYDOCS_PACKAGES)


def test_tfds_dataset_by_name_with_mocked_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    texts = [b"A review.\nIt has two lines. And two sentences.", b"", b"  ", b"Short \xff one."]

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices({"text": texts, "label": [0, 1, 0, 1]})

    stats = collections.Counter()
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        documents = list(read_documents("tfds:imdb_reviews:train", stats))
    assert documents == [["A review.", "It has two lines.", "And two sentences."],
                         ["Short \ufffd one."]]
    assert stats["empty_documents"] == 2 and stats["invalid_utf8_lines"] == 1
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        assert len(list(read_documents("tfds:imdb_reviews"))) == 3
        with pytest.raises(ValueError, match="no text feature 'body'"):
            list(read_documents("tfds:imdb_reviews", tfds_text_key="body"))


def test_long_lines_are_cut_at_sentence_ends_then_spaces_and_counted(tmp_path):
    from albert_keras.pretraining_data.corpus import MAX_LINE_CHARS, split_long_line

    sentence = "The quick brown fox jumps over the lazy dog again. "
    line = (sentence * 100).strip()
    stats = collections.Counter()
    pieces = split_long_line(line, stats)
    assert pieces == [sentence.strip()] * 100 and stats["long_lines_split"] == 1
    no_punctuation = " ".join(["word"] * 1000)  # 4,999 characters, no sentence end.
    pieces = split_long_line(no_punctuation, stats)
    assert all(len(p) <= MAX_LINE_CHARS for p in pieces) and len(pieces) == 5
    assert " ".join(pieces) == no_punctuation and stats["long_lines_split"] == 2
    assert split_long_line("x" * 2500, stats) == ["x" * 1000, "x" * 1000, "x" * 500]
    assert split_long_line("short line.", stats) == ["short line."] and stats["long_lines_split"] == 3

    _write(tmp_path / "one-line.txt", line.encode() + b"\n\nOther document.\n")
    stats = collections.Counter()
    documents = list(read_documents(str(tmp_path / "one-line.txt"), stats))
    assert [len(d) for d in documents] == [100, 1] and stats["long_lines_split"] == 1
