"""`TextPreprocessor`: raw text (and an optional second text) to the encoder's integer inputs.

Also what every task's training pipeline and serving graph share before tokenizing: one text
cleaning (`clean_text`) and one definition of a word (a run of characters other than
`str.split()`'s whitespace: `WHITESPACE` in the graph, `word_spans` in Python).
"""

from __future__ import annotations

import re

import keras
import keras_hub
import tensorflow as tf

from albert_keras.tokenizers.special_tokens import special_token_ids

# Texts are cut to this many characters per output position before tokenizing, so that a
# megabyte-long request costs no more than a long text. A token covers one character or more
# (a run of spaces counts as one), so the cut drops only text that truncation would drop anyway,
# unless a text is mostly whitespace.
CHARACTERS_PER_POSITION = 32
# What separates words: the code points of Python's `str.isspace` (what `str.split()` splits
# on, BERT's SQuAD code included), as inclusive ranges. The one source of both spellings below.
_WHITESPACE_RANGES = ((0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
                      (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
                      (0x3000, 0x3000))
# RE2 (tensorflow-text's regex split in the graph): one or more whitespace characters.
WHITESPACE = "[" + "".join(rf"\x{{{a:x}}}-\x{{{b:x}}}" for a, b in _WHITESPACE_RANGES) + "]+"
_WORD = re.compile("[^" + "".join(rf"\U{a:08x}-\U{b:08x}" for a, b in _WHITESPACE_RANGES) + "]+")


def clean_text(text, sequence_length: int) -> tf.Tensor:
    """Text as every preprocessor reads it: invalid UTF-8 and NUL replaced by U+FFFD
    (tensorflow-text's regex split stops at a NUL), cut to `sequence_length *
    CHARACTERS_PER_POSITION` characters. string `(batch,)` from any shape of strings."""
    text = tf.reshape(tf.convert_to_tensor(text, dtype=tf.string), [-1])  # (batch,)
    text = tf.strings.unicode_transcode(
        text, input_encoding="UTF-8", output_encoding="UTF-8", errors="replace",
        replacement_char=0xFFFD)
    text = tf.strings.regex_replace(text, r"\x00", "\ufffd")
    return tf.strings.substr(text, 0, sequence_length * CHARACTERS_PER_POSITION,
                             unit="UTF8_CHAR")


def word_spans(text: str) -> list[tuple[int, int]]:
    r"""`(start, end)` character offsets of the words of `text`: the words the graph finds by
    splitting `clean_text(text)` on `WHITESPACE`, one for one.

    Example:
    ```python
    assert word_spans(" a\u00a0b\x00c ") == [(1, 2), (3, 6)]  # NBSP splits, NUL does not
    ```
    """
    return [match.span() for match in _WORD.finditer(text)]


@keras.saving.register_keras_serializable(package="albert_keras")
class TextPreprocessor(keras.layers.Layer):
    """Turns raw strings into `token_ids`, `segment_ids` and `padding_mask` for an `Encoder`.

    Tokenizes with a keras-hub tokenizer (tensorflow-text ops, so it runs inside `tf.data` and
    inside an exported SavedModel) and packs `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` with
    `keras_hub.layers.MultiSegmentPacker`, cutting the longer segment first (round robin) so
    that both fit in `sequence_length`. Requests from the wild never fail: invalid UTF-8 bytes
    and NUL become U+FFFD, very long texts are truncated (`clean_text`), empty texts give
    `[CLS] [SEP]`.

    The same layer serves fine-tuning and export, so both see identical ids. Eager calls run
    the tensorflow-text path too (traced once per input structure), never a Python fallback.

    Args:
        tokenizer: `keras_hub.tokenizers.SentencePieceTokenizer` or `WordPieceTokenizer`
            with the special tokens of `albert_keras.tokenizers.special_token_ids`.
        sequence_length: int. Length of every output row, special tokens included.

    Example:
    ```python
    # needs: a pretraining run and its `encoder`
    tokenizer = albert_keras.tokenizers.load_tokenizer("runs/albert_tiny/tokenizer")
    preprocessor = TextPreprocessor(tokenizer, sequence_length=128)
    x = preprocessor(tf.constant(["a question"]), tf.constant(["its context"]))
    outputs = encoder(x)  # x: token_ids, segment_ids, padding_mask, int32 (batch, 128)
    ```
    """

    def __init__(self, tokenizer, sequence_length, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(sequence_length, int) or isinstance(sequence_length, bool) \
                or sequence_length < 3:
            raise ValueError("`sequence_length` must be an integer >= 3 ([CLS], one token, "
                             f"[SEP]). Received: sequence_length={sequence_length!r}")
        if not callable(getattr(tokenizer, "token_to_id", None)):
            raise ValueError("`tokenizer` must be a keras_hub tokenizer with `token_to_id`. "
                             f"Received: tokenizer={tokenizer!r}")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self._special_token_ids = None
        # Strings in, dicts of int tensors out: keep Keras from converting or autocasting.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        # A plain closure, not a tf.function attribute, so SavedModel export does not try to
        # serialize the eager traces of this layer.
        self._call_in_graph = _in_graph(self._preprocess)
        self.built = True  # No weights; the tokenizer's vocabulary is read at the first call.

    def call(self, text, text_pair=None):
        if tf.executing_eagerly():
            return self._call_in_graph(text, text_pair)
        return self._preprocess(text, text_pair)

    @property
    def special_token_ids(self) -> dict[str, int]:
        """`{"pad", "unk", "cls", "sep", "mask"}` ids (`albert_keras.tokenizers.special_token_ids`)."""
        # Looked up at first use: a deserialized tokenizer gets its vocabulary (an asset) only
        # after the whole model is rebuilt, so neither `__init__` nor `build` may need it.
        if self._special_token_ids is None:
            self._special_token_ids = tuple(special_token_ids(self.tokenizer).items())
        return dict(self._special_token_ids)

    def _preprocess(self, text, text_pair=None):
        ids = self.special_token_ids
        packer = keras_hub.layers.MultiSegmentPacker(  # Stateless: made per trace.
            sequence_length=self.sequence_length, start_value=ids["cls"], end_value=ids["sep"],
            pad_value=ids["pad"], truncate="round_robin")
        segments = [self._tokenize(text)]  # [(batch, None)] ragged
        if text_pair is not None:
            segments.append(self._tokenize(text_pair))
        token_ids, segment_ids = packer(tuple(segments))  # (batch, sequence_length)
        token_ids = tf.cast(token_ids, "int32")
        return {
            "token_ids": token_ids,
            "segment_ids": tf.cast(segment_ids, "int32"),
            "padding_mask": tf.cast(token_ids != ids["pad"], "int32"),
        }

    def _tokenize(self, text):
        tokens = self.tokenizer(clean_text(text, self.sequence_length))  # (batch, (tokens))
        if isinstance(tokens, tf.Tensor):  # A tokenizer with its own `sequence_length`.
            tokens = tf.RaggedTensor.from_tensor(tokens, padding=self.special_token_ids["pad"])
        return tokens

    def compute_output_spec(self, text, text_pair=None):
        shape = (text.shape[0] if len(text.shape) == 1 else None, self.sequence_length)
        return {name: keras.KerasTensor(shape, dtype="int32")
                for name in ("token_ids", "segment_ids", "padding_mask")}

    def get_build_config(self):
        return None  # Built at the first call, once the tokenizer has its vocabulary.

    def get_config(self):
        config = super().get_config()
        config.update({
            "tokenizer": keras.layers.serialize(self.tokenizer),
            "sequence_length": self.sequence_length,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("tokenizer"), dict):
            config["tokenizer"] = keras.layers.deserialize(config["tokenizer"])
        return cls(**config)


def _in_graph(function):
    """`function` traced with tf.function, so tokenizers take their tensorflow-text path."""
    traced = tf.function(function, reduce_retracing=True)

    def run(text, text_pair=None):
        text = tf.convert_to_tensor(text, dtype=tf.string)
        if text_pair is not None:
            text_pair = tf.convert_to_tensor(text_pair, dtype=tf.string)
        return traced(text, text_pair)

    return run
