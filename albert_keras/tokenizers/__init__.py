"""Tokenizers: text -> token ids, SentencePiece (ALBERT) and WordPiece (BERT), trained here or
loaded; used by the pretraining records, the fine-tuning inputs and the served models alike.

`sequence_layout.py` holds the special-token counts of each input layout (plain constants).
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["SentencePieceTokenizer", "WordPieceTokenizer", "TOKENIZER_DIR", "continuation_table",
           "describe_difference", "is_saved_tokenizer", "load_tokenizer", "save_tokenizer",
           "sentencepiece_proto_bytes", "special_token_ids", "tokenizer_fingerprint",
           "tokenizer_kind", "tokenizer_settings", "train_tokenizer", "write_vocabulary"]
lazy_exports(__name__, {
    "SentencePieceTokenizer": ".sentence_piece_tokenizer",
    "WordPieceTokenizer": ".word_piece_tokenizer",
    **dict.fromkeys(["TOKENIZER_DIR", "describe_difference", "is_saved_tokenizer",
                     "load_tokenizer", "save_tokenizer", "sentencepiece_proto_bytes",
                     "tokenizer_fingerprint", "tokenizer_settings", "write_vocabulary"],
                    ".tokenizer_files"),
    **dict.fromkeys(["continuation_table", "special_token_ids", "tokenizer_kind"],
                    ".special_tokens"),
    "train_tokenizer": ".tokenizer_training",
})
