"""`SentencePieceTokenizer`: keras-hub's SentencePiece tokenizer with optional lower-casing."""

import keras
import keras_hub
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_keras")
class SentencePieceTokenizer(keras_hub.tokenizers.SentencePieceTokenizer):
    """SentencePiece that lower-cases the text first when the model was trained that way.

    Google's ALBERT `spiece.model` files do not fold case themselves (their normalizer is
    `nmt_nfkc`); ALBERT's own tokenizer lower-cases the text before SentencePiece. Models
    trained here fold case inside the model (`nmt_nfkc_cf`), where `lowercase` changes nothing.
    `tf.strings.lower` is a core op: this works in tf.data and in an exported graph.

    Args:
        proto: bytes or path of a SentencePiece `.model`.
        lowercase: bool. Lower-case the text first. Defaults to False.
        **kwargs: the other `keras_hub.tokenizers.SentencePieceTokenizer` arguments.

    Example:
    ```python
    # needs: a spiece.model file
    tokenizer = SentencePieceTokenizer(proto="spiece.model", lowercase=True)
    tokenizer(["Hello World"])  # the same ids as "hello world"
    ```
    """

    def __init__(self, proto=None, lowercase=False, **kwargs):
        super().__init__(proto=proto, **kwargs)
        self.lowercase = bool(lowercase)

    def tokenize(self, inputs):
        if self.lowercase:
            inputs = tf.strings.lower(inputs, encoding="utf-8")
        return super().tokenize(inputs)

    def get_config(self):
        return {**super().get_config(), "lowercase": self.lowercase}
