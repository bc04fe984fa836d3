"""Pretraining data: corpus -> tokenizer -> sentence pairs -> TFRecord shards -> masked batches."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["read_documents", "DataConfig", "feature_spec", "parse_examples", "serialize_example",
           "mask_tokens", "create_pairs", "prepare", "match_files", "pretraining_dataset",
           "pretraining_dataset_from_config", "verify_shards", "continuation_table",
           "load_tokenizer", "save_tokenizer", "special_token_ids", "train_tokenizer",
           "read_manifest", "write_manifest", "RecordsManifest", "MaskingConfig",
           "write_shards", "ReferenceLayout", "read_layout"]
lazy_exports(__name__, {
    "read_documents": ".corpus",
    "DataConfig": ".data_config",
    **dict.fromkeys(["feature_spec", "parse_examples", "serialize_example"], ".features"),
    "mask_tokens": ".masking",
    "create_pairs": ".pairs",
    "prepare": ".prepare",
    **dict.fromkeys(["match_files", "pretraining_dataset", "pretraining_dataset_from_config",
                     "verify_shards"], ".pretraining_dataset"),
    **dict.fromkeys(["continuation_table", "load_tokenizer", "save_tokenizer",
                     "special_token_ids", "train_tokenizer"], ".tokenizers"),
    "write_shards": ".writer",
    **dict.fromkeys(["read_manifest", "write_manifest", "RecordsManifest"], ".records_manifest"),
    "MaskingConfig": ".masking_config",
    **dict.fromkeys(["ReferenceLayout", "read_layout"], ".reference_records"),
})
