import json
import os

import pytest
import tensorflow as tf

from albert_keras.tokenizers.special_tokens import continuation_table, special_token_ids
from albert_keras.tokenizers.tokenizer_files import load_tokenizer, save_tokenizer
from albert_keras.tokenizers.tokenizer_training import train_tokenizer


@pytest.fixture(scope="module")
def sentences(stdlib_documents):
    return [s for d in stdlib_documents for s in d]


@pytest.fixture(scope="module")
def sentencepiece(sentences):
    return train_tokenizer(sentences, "sentencepiece", vocabulary_size=300)


@pytest.fixture(scope="module")
def wordpiece(sentences):
    return train_tokenizer(sentences[:600], "wordpiece", vocabulary_size=300)


def _ids(tokenizer, text):
    return [int(i) for i in tokenizer(tf.constant([text]))[0]]


def test_sentencepiece_has_the_albert_layout(sentencepiece, tmp_path):
    assert sentencepiece.get_vocabulary()[:5] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert special_token_ids(sentencepiece) == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert sentencepiece.vocabulary_size() == 300
    text = "Return the value of the Attribute."
    assert _ids(sentencepiece, text) == _ids(sentencepiece, text.lower())  # Case-folded.
    assert not set(_ids(sentencepiece, "[MASK] [CLS]")) & {2, 3, 4}  # Control symbols.
    directory = save_tokenizer(sentencepiece, str(tmp_path / "tok"))
    config = json.load(open(os.path.join(directory, "tokenizer.json")))
    assert config["kind"] == "sentencepiece" and config["lowercase"] is True
    assert os.path.isfile(os.path.join(directory, "spiece.model"))
    for loaded in (load_tokenizer(directory), load_tokenizer(os.path.join(directory, "spiece.model"))):
        assert _ids(loaded, text) == _ids(sentencepiece, text)


def test_wordpiece_layout_and_round_trip(wordpiece, tmp_path):
    assert special_token_ids(wordpiece) == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert 100 < wordpiece.vocabulary_size() <= 300
    text = "Return the Value of the attribute."
    assert _ids(wordpiece, text) == _ids(wordpiece, text.lower())
    directory = save_tokenizer(wordpiece, str(tmp_path / "tok"))
    assert json.load(open(os.path.join(directory, "tokenizer.json")))["kind"] == "wordpiece"
    for loaded in (load_tokenizer(directory), load_tokenizer(os.path.join(directory, "vocab.txt"))):
        assert _ids(loaded, text) == _ids(wordpiece, text)


@pytest.mark.parametrize("kind, vocabulary_file", [("sentencepiece", "spiece.model"),
                                                    ("wordpiece", "vocab.txt")])
def test_tokenizers_are_saved_to_and_loaded_from_urls(sentencepiece, wordpiece, tmp_path,
                                                       ram_dir, kind, vocabulary_file):
    from albert_keras.tokenizers.tokenizer_files import tokenizer_fingerprint

    tokenizer = sentencepiece if kind == "sentencepiece" else wordpiece
    text = "Return the Value of the attribute."
    remote = save_tokenizer(tokenizer, f"{ram_dir}/records/tokenizer")
    local = save_tokenizer(tokenizer, str(tmp_path / "tokenizer"))
    assert tokenizer_fingerprint(remote) == tokenizer_fingerprint(local)
    for path in (remote, f"{remote}/{vocabulary_file}"):
        assert _ids(load_tokenizer(path), text) == _ids(tokenizer, text)
    with pytest.raises(FileNotFoundError, match=r"No tokenizer at path='ram://.*/missing.txt'"):
        load_tokenizer(f"{ram_dir}/missing.txt")


def test_continuation_tables(sentencepiece, wordpiece):
    table = continuation_table(wordpiece)
    vocabulary = wordpiece.get_vocabulary()
    assert table.shape == (len(vocabulary),) and table.dtype == bool
    assert all(table[i] == token.startswith("##") for i, token in enumerate(vocabulary))
    table = continuation_table(sentencepiece)
    pieces = sentencepiece.get_vocabulary()
    assert not table[:5].any()
    assert all(not table[i] for i, piece in enumerate(pieces) if piece.startswith("\u2581"))
    assert all(table[i] for i, piece in enumerate(pieces)
               if i > 4 and not piece.startswith("\u2581") and piece.isalpha())
    assert table[5:].any() and not table[pieces.index(".")] and not table[pieces.index(",")]


def test_real_vocabularies(shared_data):
    bert = load_tokenizer(os.path.join(shared_data, "minilm", "vocab.txt"))
    assert bert.lowercase_text is True
    # BERT lower-cases without Unicode case folding: "…" stays one character (id 1529).
    assert _ids(bert, "Wait…") == _ids(bert, "wait…") == [3524, 1529]
    assert special_token_ids(bert) == {"pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103}
    assert _ids(bert, "Hello World") == [7592, 2088]
    botchan = load_tokenizer(os.path.join(shared_data, "spm", "botchan_en_unigram_1000.model"))
    assert botchan.vocabulary_size() == 1000
    with pytest.raises(ValueError, match="no pad token '<pad>'"):
        special_token_ids(botchan)


def test_errors_name_the_input(tmp_path, sentences):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_tokenizer(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        load_tokenizer(str(tmp_path))
    with pytest.raises(ValueError, match="kind='bpe'"):
        train_tokenizer(sentences, "bpe", 100)
    with pytest.raises(ValueError, match="empty corpus"):
        train_tokenizer(["", "  "], "sentencepiece", 100)


def test_sentencepiece_lowercasing_for_case_sensitive_models(shared_data, tmp_path):
    from albert_keras.tokenizers.sentence_piece_tokenizer import SentencePieceTokenizer

    path = os.path.join(shared_data, "spm", "botchan_en_unigram_1000.model")
    cased = SentencePieceTokenizer(proto=path)
    lowered = SentencePieceTokenizer(proto=path, lowercase=True)
    assert _ids(cased, "The Cat") != _ids(cased, "the cat")  # the model keeps case itself
    assert _ids(lowered, "The Cat") == _ids(cased, "the cat")
    assert lowered.get_config()["lowercase"] is True
    # A converted ALBERT tokenizer directory records `"lowercase": true` beside its spiece.model.
    with open(path, "rb") as source, open(tmp_path / "spiece.model", "wb") as target:
        target.write(source.read())
    (tmp_path / "tokenizer.json").write_text(json.dumps({"kind": "sentencepiece", "lowercase": True}))
    clone = load_tokenizer(str(tmp_path))
    assert clone.lowercase is True and _ids(clone, "THE CAT") == _ids(cased, "the cat")


def test_a_models_tokenizer_is_the_one_beside_it(tmp_path, sentences):
    from albert_keras.tokenizers.tokenizer_files import describe_difference

    model = tmp_path / "run" / "encoder.keras"
    model.parent.mkdir()
    with pytest.raises(FileNotFoundError, match=r"No tokenizer beside the model .*encoder.keras"):
        load_tokenizer(str(model))
    trained = train_tokenizer(sentences, "wordpiece", 80)
    save_tokenizer(trained, str(tmp_path / "run" / "tokenizer"))
    loaded = load_tokenizer(str(model))
    save_tokenizer(trained, str(tmp_path / "copy"))
    assert describe_difference(loaded, load_tokenizer(str(tmp_path / "copy"))) is None
    assert describe_difference(loaded, train_tokenizer(sentences, "sentencepiece", 80)) == \
        "kind wordpiece vs sentencepiece"
    smaller = train_tokenizer(sentences, "wordpiece", 60)
    assert describe_difference(loaded, smaller).startswith(("vocabulary_size", "token "))


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_truncated_tokenizer_files_are_named(sentencepiece, wordpiece, tmp_path, kind):
    """A truncated file as data.tokenizer_path / finetune.tokenizer / export.tokenizer_path
    (all read by `load_tokenizer`) is one error naming the file, not an op's traceback."""
    directory = save_tokenizer(sentencepiece if kind == "sentencepiece" else wordpiece,
                               str(tmp_path / kind))
    name = "spiece.model" if kind == "sentencepiece" else "vocab.txt"
    path = os.path.join(directory, name)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2] if kind == "sentencepiece" else b"")
    with pytest.raises(ValueError, match=rf"{name}.*(SentencePiece|WordPiece)"):
        load_tokenizer(directory)
    if kind == "sentencepiece":
        with pytest.raises(ValueError, match=r"spiece.model is not a usable SentencePiece model"):
            load_tokenizer(path)  # A bare .model file.
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        f.write('{"kind": "sentence')
    with pytest.raises(ValueError, match=r"tokenizer.json is not valid JSON"):
        load_tokenizer(directory)
