"""Load and save the two tokenizers: SentencePiece (ALBERT) and WordPiece (BERT).

Both are keras-hub tokenizers (tensorflow-text ops inside), so the same object tokenizes in
`tf.data`, in `model.fit` and inside an exported SavedModel. A tokenizer directory holds
`tokenizer.json` (`{"kind": "sentencepiece" | "wordpiece", "lowercase": bool, ...}`) and the
vocabulary: `spiece.model` or `vocab.txt`. Training is `tokenizer_training.py`; the special
ids are `special_tokens.py`.

Every path may be a URL (`gs://...`; `file_io`): the vocabulary is read here and handed to
keras-hub as bytes or a list of tokens, since keras-hub opens files with `open`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from albert_keras.tokenizers.sentence_piece_tokenizer import SentencePieceTokenizer
from albert_keras.tokenizers.special_tokens import (KINDS, WORDPIECE_SPECIAL_TOKENS, check_kind,
                                                    special_token_ids, tokenizer_kind)
from albert_keras.tokenizers.word_piece_tokenizer import WordPieceTokenizer
from albert_keras.utils import file_io
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR, tokenizer_beside  # noqa: F401

TOKENIZER_CONFIG = "tokenizer.json"
SENTENCEPIECE_FILE = "spiece.model"
WORDPIECE_FILE = "vocab.txt"


def load_tokenizer(path: str):
    """Loads a tokenizer directory (with `tokenizer.json`), a SentencePiece `.model` or a
    `vocab.txt`, or the tokenizer of a model: a `.keras` file (the `tokenizer/` beside it), a
    Hugging Face directory, a TF1 checkpoint or a keras-hub preset (their vocabulary file,
    with the casing their config gives).

    A bare `vocab.txt` is lower-cased when it has no upper-case token (like Google's uncased
    BERT vocabularies). Lower-casing is BERT's and ALBERT's plain `lower()`, applied before
    WordPiece or SentencePiece (see `WordPieceTokenizer`, `SentencePieceTokenizer`).
    """
    path = os.fspath(path)
    if path.endswith(".keras"):
        beside = tokenizer_beside(path)
        if not file_io.isdir(beside):
            raise FileNotFoundError(
                f"No tokenizer beside the model {path!r}: expected the folder {beside} (pretrain "
                "and finetune write one next to every .keras file they save).")
        return load_tokenizer(beside)
    if not is_saved_tokenizer(path) and _is_checkpoint(path):
        from albert_keras.convert import load_pretrained_tokenizer

        return load_pretrained_tokenizer(path)
    if file_io.isdir(path):
        config_path = os.path.join(path, TOKENIZER_CONFIG)
        if not file_io.isfile(config_path):
            raise FileNotFoundError(
                f"Tokenizer directory {path!r} has no {TOKENIZER_CONFIG}. It holds: "
                f"{file_io.listdir(path)}")
        config = _read_json_object(config_path)
        kind = config.get("kind")
        check_kind(kind)
        if kind == "sentencepiece":
            return SentencePieceTokenizer(
                proto=checked_sentencepiece(os.path.join(path, SENTENCEPIECE_FILE)),
                lowercase=bool(config.get("lowercase", False)))
        vocabulary_path = os.path.join(path, WORDPIECE_FILE)
        vocabulary = _read_vocabulary(vocabulary_path)  # Errors name the file.
        return WordPieceTokenizer(
            vocabulary=vocabulary if file_io.is_url(path) else vocabulary_path,
            lowercase=bool(config.get("lowercase", False)),
            strip_accents=bool(config.get("strip_accents", False)),
            oov_token=config.get("oov_token", WORDPIECE_SPECIAL_TOKENS["unk"]))
    if not file_io.isfile(path):
        raise FileNotFoundError(f"No tokenizer at path={path!r} (expected a tokenizer directory, "
                                "a SentencePiece .model file or a vocab.txt)")
    if path.endswith(".txt"):
        vocabulary = _read_vocabulary(path)
        lowercase = not any(token != token.lower() for token in vocabulary
                            if not (token.startswith("[") and token.endswith("]")))
        return WordPieceTokenizer(
            vocabulary=vocabulary, lowercase=lowercase, strip_accents=lowercase,
            oov_token=WORDPIECE_SPECIAL_TOKENS["unk"])
    return SentencePieceTokenizer(proto=checked_sentencepiece(path))


def checked_sentencepiece(path: str) -> bytes:
    """The bytes of the SentencePiece model at `path` when it is whole; else an error naming
    the file (a truncated or corrupt file otherwise fails deep in the op with no file name)."""
    import sentencepiece

    if not file_io.isfile(path):
        raise FileNotFoundError(f"SentencePiece model not found: {path!r}")
    proto = file_io.read_bytes(path)
    try:
        sentencepiece.SentencePieceProcessor().LoadFromSerializedProto(proto)
    except (RuntimeError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "ParseFromArray" in reason:
            reason = "it does not parse as a SentencePiece ModelProto"
        raise ValueError(f"{path} is not a usable SentencePiece model (truncated or corrupt? "
                         f"{len(proto):,} bytes): {reason.removeprefix('INTERNAL: ')}") from None
    return proto


def _read_vocabulary(path: str) -> list[str]:
    """The tokens of a WordPiece `vocab.txt`, one a line; errors name the file."""
    if not file_io.isfile(path):
        raise FileNotFoundError(f"WordPiece vocabulary not found: {path!r}")
    try:
        text = file_io.read_text(path).replace("\r\n", "\n").replace("\r", "\n")
        vocabulary = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not a WordPiece vocabulary (UTF-8 text, one token a "
                         f"line): {error}") from None
    if not any(token.strip() for token in vocabulary):
        raise ValueError(f"{path} is an empty WordPiece vocabulary (truncated?)")
    return vocabulary


def _read_json_object(path: str) -> dict:
    try:
        value = json.loads(file_io.read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON (truncated or corrupt?): {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold a JSON object. Received: {type(value).__name__}")
    return value


def is_saved_tokenizer(path: str) -> bool:
    """A directory `save_tokenizer` wrote: its `tokenizer.json` names our `kind` (a Hugging Face
    directory has a `tokenizer.json` of its own, the fast tokenizer's)."""
    config_path = os.path.join(path, TOKENIZER_CONFIG)
    if not file_io.isfile(config_path):
        return False
    try:
        return json.loads(file_io.read_text(config_path)).get("kind") in KINDS
    except (ValueError, AttributeError):
        return False


def _is_checkpoint(path: str) -> bool:
    """A Hugging Face directory, a TF1 checkpoint or a keras-hub preset (`convert` knows)."""
    from albert_keras.convert.pretrained import FORMATS

    if file_io.is_url(path):
        return False  # Checkpoints from elsewhere are read from local paths.
    return (os.path.isdir(path) or os.path.isfile(f"{path}.index")) and any(
        module.matches(path) for module in FORMATS.values())


def describe_difference(tokenizer, other) -> str | None:
    """What differs between two tokenizers (kind, casing, vocabulary), or None: the same ids
    for every text."""
    kinds = tokenizer_kind(tokenizer), tokenizer_kind(other)
    if kinds[0] != kinds[1]:
        return f"kind {kinds[0]} vs {kinds[1]}"
    settings = tokenizer_settings(tokenizer), tokenizer_settings(other)
    changed = [f"{key} {settings[0][key]!r} vs {settings[1].get(key)!r}" for key in settings[0]
               if settings[0][key] != settings[1].get(key)]
    if changed:
        return ", ".join(changed)
    vocabularies = tokenizer.get_vocabulary(), other.get_vocabulary()
    if len(vocabularies[0]) != len(vocabularies[1]):
        return f"vocabulary_size {len(vocabularies[0])} vs {len(vocabularies[1])}"
    for index, (token, other_token) in enumerate(zip(*vocabularies)):
        if token != other_token:
            return f"token {index} is {token!r} vs {other_token!r}"
    return None


def save_tokenizer(tokenizer, directory: str) -> str:
    """Writes `tokenizer.json` plus `spiece.model` or `vocab.txt` into `directory`; returns it."""
    file_io.makedirs(directory)
    write_vocabulary(tokenizer, directory)
    config: dict[str, Any] = {"kind": tokenizer_kind(tokenizer),
                              "vocabulary_size": int(tokenizer.vocabulary_size()),
                              "special_token_ids": special_token_ids(tokenizer),
                              **tokenizer_settings(tokenizer)}
    file_io.write_text(os.path.join(directory, TOKENIZER_CONFIG), json.dumps(config, indent=2))
    return directory


def write_vocabulary(tokenizer, directory: str) -> str:
    """Writes the tokenizer's `spiece.model` or `vocab.txt` into `directory`; returns its name."""
    if tokenizer_kind(tokenizer) == "sentencepiece":
        file_io.write_bytes(os.path.join(directory, SENTENCEPIECE_FILE),
                            sentencepiece_proto_bytes(tokenizer))
        return SENTENCEPIECE_FILE
    file_io.write_text(os.path.join(directory, WORDPIECE_FILE),
                       "".join(token + "\n" for token in tokenizer.get_vocabulary()))
    return WORDPIECE_FILE


def tokenizer_settings(tokenizer) -> dict[str, Any]:
    """How the tokenizer normalizes text: `lowercase` (both kinds), and for WordPiece
    `strip_accents` and `oov_token`."""
    if tokenizer_kind(tokenizer) == "sentencepiece":
        return {"lowercase": bool(getattr(tokenizer, "lowercase", False))
                or _sentencepiece_lowercases(tokenizer)}
    return {"lowercase": bool(getattr(tokenizer, "lowercase_text", tokenizer.lowercase)),
            "strip_accents": bool(tokenizer.strip_accents), "oov_token": tokenizer.oov_token}


def tokenizer_fingerprint(directory: str) -> str:
    """SHA-256 of a saved tokenizer directory (its vocabulary file and `tokenizer.json`)."""
    digest = hashlib.sha256()
    for name in file_io.listdir(directory):
        path = os.path.join(directory, name)
        if file_io.isfile(path):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(file_io.read_bytes(path))
    return digest.hexdigest()


def sentencepiece_proto_bytes(tokenizer) -> bytes:
    """The serialized SentencePiece model of a keras-hub `SentencePieceTokenizer`."""
    proto = tokenizer.proto
    if isinstance(proto, bytes):
        return proto
    return file_io.read_bytes(proto)


def _sentencepiece_lowercases(tokenizer) -> bool:
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(sentencepiece_proto_bytes(tokenizer))
    return model.normalizer_spec.name.endswith("_cf")
