"""`train_tokenizer`: a SentencePiece (ALBERT) or WordPiece (BERT) tokenizer trained on a corpus
with keras-hub's vocabulary tools."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterable

from albert_keras.tokenizers.sentence_piece_tokenizer import SentencePieceTokenizer
from albert_keras.tokenizers.special_tokens import WORDPIECE_SPECIAL_TOKENS, check_kind
from albert_keras.tokenizers.word_piece_tokenizer import WordPieceTokenizer


def train_tokenizer(sentences: Iterable[str], kind: str, vocabulary_size: int,
                    lowercase: bool = True, strip_accents: bool = False):
    """Trains a tokenizer on `sentences` with keras-hub's vocabulary tools.

    Args:
        sentences: iterable of str. Training text, one sentence or paragraph each.
        kind: str. `"sentencepiece"` (unigram model, ALBERT special ids) or `"wordpiece"`.
        vocabulary_size: int. Size of the vocabulary including the special tokens.
        lowercase: bool. Case-fold the text (SentencePiece: `nmt_nfkc_cf` normalization stored
            in the model; WordPiece: lower-casing in the tokenizer). Defaults to True.
        strip_accents: bool. WordPiece only: strip accents. Defaults to False.

    Returns:
        A `keras_hub.tokenizers.SentencePieceTokenizer` or `WordPieceTokenizer`.
    """
    import keras_hub
    import tensorflow as tf

    check_kind(kind)
    if isinstance(vocabulary_size, bool) or not isinstance(vocabulary_size, int) \
            or vocabulary_size < 16:
        raise ValueError(f"`vocabulary_size` must be an integer >= 16. "
                         f"Received: vocabulary_size={vocabulary_size!r}")
    sentences = [s for s in sentences if s.strip()]
    if not sentences:
        raise ValueError("Cannot train a tokenizer on an empty corpus (no non-blank sentences).")
    data = tf.data.Dataset.from_tensor_slices(tf.constant(sentences, tf.string))
    if kind == "sentencepiece":
        # keras-hub trains with pad 0, unk 1, bos 2, eos 3: rename 2 and 3 to [CLS]/[SEP] and
        # insert [MASK] at 4, which gives ALBERT's layout.
        try:
            with _quiet_stderr():  # The trainer logs every option and iteration to stderr.
                proto = keras_hub.tokenizers.compute_sentence_piece_proto(
                    data, vocabulary_size=vocabulary_size - 1, lowercase=lowercase)
        except RuntimeError as error:
            raise ValueError(f"SentencePiece training failed with vocabulary_size={vocabulary_size} "
                             f"on {len(sentences)} sentences: {error}") from None
        return SentencePieceTokenizer(proto=_albert_special_pieces(proto))
    reserved = [WORDPIECE_SPECIAL_TOKENS[k] for k in ("pad", "unk", "cls", "sep", "mask")]
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        data.batch(1024), vocabulary_size=vocabulary_size, lowercase=lowercase,
        strip_accents=strip_accents, reserved_tokens=reserved)
    return WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=lowercase, strip_accents=strip_accents,
        oov_token=WORDPIECE_SPECIAL_TOKENS["unk"])


@contextlib.contextmanager
def _quiet_stderr():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # No real file descriptor 2 (some notebooks): leave it.
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _albert_special_pieces(proto: bytes) -> bytes:
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    pieces = model.pieces
    control = sentencepiece_model_pb2.ModelProto.SentencePiece.CONTROL
    if [p.piece for p in pieces[:4]] != ["<pad>", "<unk>", "<s>", "</s>"]:
        raise ValueError("Unexpected special pieces from compute_sentence_piece_proto: "
                         f"{[p.piece for p in pieces[:4]]}")
    pieces[2].piece, pieces[3].piece = "[CLS]", "[SEP]"
    mask = sentencepiece_model_pb2.ModelProto.SentencePiece(piece="[MASK]", score=0.0, type=control)
    pieces.insert(4, mask)
    model.trainer_spec.bos_piece, model.trainer_spec.eos_piece = "[CLS]", "[SEP]"
    model.trainer_spec.vocab_size = len(pieces)
    return model.SerializeToString()
