"""`task_corpus`: the text of `finetune.train` as a BERT-format pretraining corpus.

The properties run on random files of each task (CSV with and without a header, TSV, JSON
lines, text pairs, word/TAG files, SQuAD JSON with repeated contexts) whose text mixes line
breaks of every kind, tabs, non-ASCII letters and emoji. The expected documents come from the
generated rows, not from the reader.
"""

import csv
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.jobs.task_corpus import task_documents, write_task_corpus
from albert_keras.pretraining_data.corpus import MAX_LINE_CHARS, read_documents
from albert_keras.tasks.fine_tuning_task import FineTuningTask
from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.inputs.labeled_examples import (ClassificationExample, SpanExample,
                                                     TaggingExample)
from albert_keras.tasks.registry import TASKS, task_named

# Every line boundary of `str.splitlines`, written out here rather than taken from it.
LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Letters, non-ASCII, emoji (one with a skin-tone modifier), a zero-width space (not
# whitespace), CSV/JSON specials, and whitespace and line breaks of every kind.
NON_SPACE = list("abcXYZ019.,;\"'/\\é中ßД") + ["😀", "👍🏽", "\u200b"]
CHARACTERS = NON_SPACE + [" ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028",
                          "\u2029", "\u00a0", "\u3000", "\x1c"]
VALIDATION_WORD, TEST_WORD, QUESTION_WORD = "validationsecret", "testsecret", "questionsecret"
PROPERTY_SETTINGS = settings(max_examples=30, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])

texts = st.lists(st.sampled_from(CHARACTERS), max_size=25).map("".join)
non_blank_texts = st.tuples(texts, st.sampled_from(["ok", "é", "😀", "\u200b"]), texts).map(
    "".join)


def _sentences(text):
    return [" ".join(line.split()) for line in LINE_BREAK.split(text) if line.split()]


def _ink(text):
    """The characters that are not whitespace, in order: what the corpus must keep."""
    return "".join(text.split())


def _round_trip(config, directory):
    """`task_documents`, the file `write_task_corpus` writes, and what the corpus reader reads
    back from it."""
    documents, counts = task_documents(config)
    path = os.path.join(directory, "corpus.txt")
    assert write_task_corpus(config, path) == counts
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "" and lines[-2] != ""  # Ends with one newline.
    for line in lines[:-1]:  # Only the document separators are empty; sentences are clean.
        assert line == "" or line == " ".join(line.split())
    assert lines[:-1].count("") == len(documents) - 1
    assert list(read_documents(path)) == documents
    assert counts["documents"] == len(documents)
    assert counts["sentences"] == sum(map(len, documents))
    assert counts["documents"] == (counts["examples"] - counts["left_out"]
                                   - counts["empty_examples"] - counts["repeated_documents"])
    return documents, counts, "\n".join(lines)


def _held_out_files(directory):
    """Validation and test files whose text must never reach the corpus."""
    validation = os.path.join(directory, "validation.csv")
    test = os.path.join(directory, "test.jsonl")
    with open(validation, "w", encoding="utf-8") as f:
        f.write(f"text,label\n{VALIDATION_WORD} text,a\n")
    with open(test, "w", encoding="utf-8") as f:
        f.write(json.dumps({"text": TEST_WORD, "label": "a", "words": [TEST_WORD],
                            "tags": ["A"]}) + "\n")
    return validation, test


def _write_delimited(path, rows, delimiter, header):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


# --- Text classification --------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(rows=st.lists(st.tuples(texts, non_blank_texts, st.sampled_from(["pos", "neg", "1"])),
                     min_size=1, max_size=8),
       layout=st.sampled_from(["csv", "csv_without_header", "tsv", "jsonl"]),
       with_pair=st.booleans())
def test_text_classification_documents_round_trip(tmp_path_factory, rows, layout, with_pair):
    directory = str(tmp_path_factory.mktemp("classification"))
    if not any(text.strip() for text, _, _ in rows):
        rows = [("Something to read.", "pair", "pos")] + rows
    pair_column = "premise_b" if with_pair else None
    columns = ["label", "sentence"] + ([pair_column] if with_pair else [])
    records = [dict(zip(columns, (label, text, pair))) for text, pair, label in rows]
    path = os.path.join(directory, "train." + ("jsonl" if layout == "jsonl" else layout[:3]))
    if layout == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=len(rows) % 2 == 0) + "\n" for r in records)
    else:
        header = None if layout == "csv_without_header" else columns
        _write_delimited(path, [[r[c] for c in columns] for r in records],
                         "\t" if layout == "tsv" else ",", header)
    validation, test = _held_out_files(directory)
    config = FinetuneConfig(train=path, validation=validation, test=test,
                            text_column="sentence", text_pair_column=pair_column,
                            header=layout != "csv_without_header",
                            column_names=tuple(columns) if layout == "csv_without_header" else ())
    documents, counts, written = _round_trip(config, directory)
    kept = [(text, pair) for text, pair, _ in rows if text.strip()]
    assert documents == [_sentences(text) + (_sentences(pair) if with_pair else [])
                         for text, pair in kept]
    for document, (text, pair) in zip(documents, kept):
        assert _ink("".join(document)) == _ink(text) + (_ink(pair) if with_pair else "")
    assert counts["examples"] == len(kept) and counts["skipped"] == len(rows) - len(kept)
    assert VALIDATION_WORD not in written and TEST_WORD not in written


def test_only_the_training_file_is_read(tmp_path, monkeypatch):
    path = tmp_path / "train.csv"
    path.write_text("text,label\nA line.,a\n", encoding="utf-8")
    validation, test = _held_out_files(str(tmp_path))
    task = task_named("text_classification")
    calls = []
    read = task.read_examples

    def recording(source, config, split="train", skipped=None):
        calls.append((source, split))
        return read(source, config, split, skipped)

    monkeypatch.setattr(task, "read_examples", recording)
    documents, _ = task_documents(FinetuneConfig(train=str(path), validation=validation,
                                                 test=test))
    assert documents == [["A line."]] and calls == [(str(path), "train")]


def test_examples_finetune_holds_out_or_leaves_out_are_not_text(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "".join(f"word{i},a\n" for i in range(20)), encoding="utf-8")
    config = FinetuneConfig(train=str(path), validation_fraction=0.25, seed=3,
                            max_train_examples=16)
    documents, counts = task_documents(config)
    examples = task_named("text_classification").read_examples(str(path), config)
    trained, held_out = labeled.split_examples(examples[:16], 0.25, 3)
    assert documents == [[e.text] for e in trained]
    assert not {e.text for e in held_out} & {d[0] for d in documents}
    assert counts["examples"] == 20 and counts["left_out"] == 4 + len(held_out)
    # A validation file of its own: then nothing of train is held out.
    validation, _ = _held_out_files(str(tmp_path))
    config = FinetuneConfig(train=str(path), validation=validation, validation_fraction=0.25)
    assert task_documents(config)[1]["left_out"] == 0


def test_long_lines_are_cut_as_the_corpus_reader_cuts_them(tmp_path):
    long_text = " ".join(f"w{i}" for i in range(1000)) + ". Then " + "x" * 1500
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"text": long_text, "label": "a"}) + "\n", encoding="utf-8")
    documents, counts, _ = _round_trip(FinetuneConfig(train=str(path)), str(tmp_path))
    assert counts["long_lines_split"] == 1 and len(documents[0]) >= 4
    assert all(len(sentence) <= MAX_LINE_CHARS for sentence in documents[0])
    assert _ink("".join(documents[0])) == _ink(long_text)


def test_lone_surrogates_become_replacement_characters(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "bad \\ud800 half\\nnext", "label": "a"}\n', encoding="utf-8")
    documents, _, _ = _round_trip(FinetuneConfig(train=str(path)), str(tmp_path))
    assert documents == [["bad \ufffd half", "next"]]


# --- Token classification -------------------------------------------------------------------

words = st.lists(st.sampled_from(NON_SPACE), min_size=1, max_size=6).map("".join)


@PROPERTY_SETTINGS
@given(sentences=st.lists(st.lists(st.tuples(words, st.sampled_from(["NN", "DT", "PRP$", "."])),
                                   min_size=1, max_size=6), min_size=1, max_size=6),
       blank_lines=st.lists(st.sampled_from(["", "  ", "\t"]), max_size=3))
def test_tagged_files_give_a_document_per_sentence(tmp_path_factory, sentences, blank_lines):
    directory = str(tmp_path_factory.mktemp("tagged"))
    path = os.path.join(directory, "train.txt")
    lines = [" ".join(f"{word}/{tag}" for word, tag in sentence) for sentence in sentences]
    for i, blank in enumerate(blank_lines):
        lines.insert(i * 2 % (len(lines) + 1), blank)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    validation, test = _held_out_files(directory)
    config = FinetuneConfig(task="token_classification", train=path, validation=validation,
                            test=test)
    documents, counts, written = _round_trip(config, directory)
    assert documents == [[" ".join(word for word, _ in sentence)] for sentence in sentences]
    assert counts["examples"] == len(sentences) and TEST_WORD not in written


@PROPERTY_SETTINGS
@given(rows=st.lists(st.lists(st.sampled_from(["", " ", "a\nb", "é\u2028x", "w"] + CHARACTERS),
                              max_size=5), min_size=1, max_size=6))
def test_jsonl_words_with_line_breaks_and_empty_rows(tmp_path_factory, rows):
    directory = str(tmp_path_factory.mktemp("words"))
    rows = rows + [["last", "row"]]
    path = os.path.join(directory, "train.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"tokens": row, "ner": ["O"] * len(row)}) + "\n" for row in rows)
    config = FinetuneConfig(task="token_classification", train=path, text_column="tokens",
                            label_column="ner")
    documents, counts, _ = _round_trip(config, directory)
    expected = [_sentences(" ".join(row)) for row in rows]
    assert documents == [d for d in expected if d]
    assert counts["empty_examples"] == expected.count([])


def test_a_file_with_no_text_is_an_error_naming_finetune_train(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"words": [], "tags": []}\n{"words": [" "], "tags": ["O"]}\n')
    with pytest.raises(ValueError, match=r"finetune\.train.*all 2 training examples are empty"):
        task_documents(FinetuneConfig(task="token_classification", train=str(path),
                                      text_column="words", label_column="tags"))


# --- Span extraction ------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(paragraphs=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1,
                           max_size=8),
       contexts=st.lists(texts, min_size=4, max_size=4, unique=True))
def test_squad_gives_a_document_per_distinct_context(tmp_path_factory, paragraphs, contexts):
    directory = str(tmp_path_factory.mktemp("squad"))
    contexts[0] = "The first context.\n\nIt has two lines."
    paragraphs = paragraphs + [(0, 1)]  # At least one context with text.
    data, ids = [], iter(range(1000))
    for choice, questions in paragraphs:  # Contexts repeat across paragraphs and questions.
        context = contexts[choice]
        qas = [{"id": str(next(ids)), "question": f"{QUESTION_WORD} {q}?",
                "answers": [{"text": context[:3], "answer_start": 0}] if q else []}
               for q in range(questions)]
        data.append({"title": "t", "paragraphs": [{"context": context, "qas": qas}]})
    path = os.path.join(directory, "train.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": data}, f)
    validation, test = _held_out_files(directory)
    config = FinetuneConfig(task="span_extraction", train=path, validation=validation, test=test)
    documents, counts, written = _round_trip(config, directory)
    expected = []
    for choice, _ in paragraphs:
        document = _sentences(contexts[choice])
        if document and document not in expected:
            expected.append(document)
    assert documents == expected
    assert counts["examples"] == sum(questions for _, questions in paragraphs)
    assert QUESTION_WORD not in written and VALIDATION_WORD not in written


def test_span_jsonl_contexts(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"id": "1", "question": "q?", "context": "Ünïcode\tcontext 😀\r\nline two"},
            {"id": "2", "question": "q2?", "context": "Ünïcode\tcontext 😀\r\nline two"},
            {"id": "3", "question": "q3?", "context": "Other."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    documents, counts, _ = _round_trip(FinetuneConfig(task="span_extraction", train=str(path)),
                                       str(tmp_path))
    assert documents == [["Ünïcode context 😀", "line two"], ["Other."]]
    assert counts["repeated_documents"] == 1


# --- Errors and the task table --------------------------------------------------------------

@pytest.mark.parametrize("train", [None, ""])
def test_no_training_file_is_an_error_naming_finetune_train(train):
    with pytest.raises(ValueError, match=f"finetune.train={train!r}"):
        task_documents(FinetuneConfig(train=train))


def test_a_missing_training_file_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=re.escape(f"finetune.train={missing!r}")):
        write_task_corpus(FinetuneConfig(train=missing), str(tmp_path / "corpus.txt"))
    assert not os.path.exists(tmp_path / "corpus.txt")


def test_every_task_has_corpus_text():
    for name in TASKS:
        assert task_named(name).corpus_texts is not FineTuningTask.corpus_texts, name
    assert task_named("text_classification").corpus_texts(ClassificationExample(
        text="a", text_pair="b", label="x", source="m", row=1)) == ["a", "b"]
    assert task_named("token_classification").corpus_texts(TaggingExample(
        words=("a", "b"), tags=("X", "X"), source="m", row=1)) == ["a b"]
    assert task_named("span_extraction").corpus_texts(SpanExample(
        id="1", context="c", question="q", source="m", row=1)) == ["c"]
    assert task_named("span_extraction").shared_texts


def test_rewriting_replaces_the_corpus_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "train.csv"
    corpus = tmp_path / "out" / "corpus.txt"
    path.write_text("text,label\nFirst.,a\n", encoding="utf-8")
    write_task_corpus(FinetuneConfig(train=str(path)), str(corpus))
    path.write_text("text,label\nSecond.,a\n", encoding="utf-8")
    write_task_corpus(FinetuneConfig(train=str(path)), str(corpus))
    assert corpus.read_text(encoding="utf-8") == "Second.\n"
    assert os.listdir(tmp_path / "out") == ["corpus.txt"]


# --- Real data ------------------------------------------------------------------------------

def test_real_uncertainty_sentences(shared_data, tmp_path):
    train = os.path.join(shared_data, "labeled", "uncertainty.csv")
    config = FinetuneConfig(train=train, header=False, column_names=("label", "text"))
    documents, counts, _ = _round_trip(config, str(tmp_path))
    with open(train, encoding="utf-8-sig", newline="") as f:
        texts = [row[1] for row in csv.reader(f) if row]
    assert counts["examples"] + counts["skipped"] == len(texts) > 2000
    assert counts["documents"] == counts["examples"] - counts["empty_examples"]
    # One sentence a row, unless it is longer than the corpus reader's longest line.
    assert len([d for d in documents if len(d) > 1]) == counts["long_lines_split"] < 10
    assert [_ink("".join(d)) for d in documents] == [_ink(t) for t in texts if t.strip()]
    assert [d[0] for d in documents if len(d) == 1] == [
        " ".join(t.split()) for t in texts if t.strip() and len(" ".join(t.split())) <= 1000]


def test_data_corpus_finetune_prepares_the_task_text(tmp_path, capsys):
    """`data.corpus: finetune` -> the task text file -> records, through the CLI's prepare."""
    import yaml

    from albert_keras.cli import main
    from albert_keras.pipeline import ConfigError, load_pipeline, pipeline_from_dict
    from albert_keras.pretraining_data.records.records_check import check_records

    rng = __import__("random").Random(4)
    words = "the river ran past old mills and quiet farms under grey skies".split()
    rows = [[" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + ".",
             rng.choice("ab")] for _ in range(60)]
    train, held = tmp_path / "train.csv", tmp_path / "validation.csv"
    for path, part in ((train, rows), (held, [["unseen validation words", "a"]])):
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([["text", "label"], *part])
    config_path = tmp_path / "adapt.yaml"
    config_path.write_text(yaml.safe_dump({
        "name": "tapt",
        "data": {"corpus": "finetune", "tokenizer": "wordpiece", "vocabulary_size": 60,
                 "max_sequence_length": 16, "max_predictions": 3, "num_shards": 1,
                 "num_workers": 1, "output_dir": str(tmp_path / "records")},
        "finetune": {"train": str(train), "validation": str(held)}}))
    config = load_pipeline(str(config_path))
    assert config.data.corpus == str(tmp_path / "records" / "tapt.finetune-train.txt")
    assert main(["prepare", "--config", str(config_path)]) == 0
    assert "data.corpus=finetune: 60 documents" in capsys.readouterr().out
    text = open(config.data.corpus, encoding="utf-8").read()
    assert text.split("\n\n")[0] == rows[0][0] and "unseen" not in text
    directory = str(tmp_path / "records" / "tapt")
    manifest = check_records(directory, os.path.join(directory, "tokenizer"), config.data)
    assert sum(entry["num_sequences"] for entry in manifest.shard_files) > 0
    with pytest.raises(ConfigError, match=r"finetune.train=None"):
        pipeline_from_dict({"name": "x", "data": {"corpus": "finetune"}})
