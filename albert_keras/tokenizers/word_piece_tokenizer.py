"""`WordPieceTokenizer`: keras-hub's WordPiece tokenizer with BERT's own lower-casing."""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_keras")
class WordPieceTokenizer(keras_hub.tokenizers.WordPieceTokenizer):
    """WordPiece as BERT's uncased models expect it: plain lower-casing, not case folding.

    keras-hub lower-cases with Unicode case folding (NFKC), which also rewrites characters such
    as "…" into "..."; BERT's reference tokenizer only lower-cases. This subclass lower-cases the
    text with `tf.strings.lower` (a core op, so it runs in tf.data and in an exported graph) and
    leaves the rest (accent stripping, splitting, WordPiece) to keras-hub.

    Args:
        vocabulary: list of str or path of a `vocab.txt`.
        lowercase: bool. Lower-case the text first. Defaults to False.
        **kwargs: the other `keras_hub.tokenizers.WordPieceTokenizer` arguments.

    Example:
    ```python
    # needs: a vocab.txt file
    tokenizer = WordPieceTokenizer(vocabulary="vocab.txt", lowercase=True, strip_accents=True)
    tokenizer(["Hello world…"])  # ragged ids, "…" kept as one unknown/known token
    ```
    """

    def __init__(self, vocabulary=None, lowercase=False, **kwargs):
        super().__init__(vocabulary=vocabulary, lowercase=False, **kwargs)
        self.lowercase_text = bool(lowercase)

    def tokenize(self, inputs):
        if self.lowercase_text:
            inputs = tf.strings.lower(inputs, encoding="utf-8")
        return super().tokenize(inputs)

    def get_config(self):
        return {**super().get_config(), "lowercase": self.lowercase_text}
