"""Pretraining data, one stage a folder: `corpus.py` (text -> documents of sentences) ->
`pairs/` (tokenized documents -> NSP/SOP sentence pairs) -> `records/` (TFRecord shards, their
feature spec and manifest) -> `reader/` (shards -> batches, masked on the fly by `masking/`).
`prepare.py` runs the first three with the runner `data.runner` names (`runners/`: local or
Apache Beam); `data_config.py` is the `data:` section that drives them. The tokenizers are
`albert_keras.tokenizers`.
"""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["read_documents", "DataConfig", "feature_spec", "parse_examples", "serialize_example",
           "mask_tokens", "create_pairs", "prepare", "match_files", "pretraining_dataset",
           "pretraining_dataset_from_config", "verify_shards", "read_manifest", "write_manifest",
           "RecordsManifest", "MaskingConfig", "write_shards", "ReferenceLayout", "read_layout"]
lazy_exports(__name__, {
    "read_documents": ".corpus",
    "DataConfig": ".data_config",
    **dict.fromkeys(["feature_spec", "parse_examples", "serialize_example"], ".records.features"),
    "mask_tokens": ".masking.mask_tokens",
    "create_pairs": ".pairs.create_pairs",
    "prepare": ".prepare",
    **dict.fromkeys(["match_files", "pretraining_dataset", "pretraining_dataset_from_config",
                     "verify_shards"], ".reader.pretraining_dataset"),
    "write_shards": ".records.writer",
    **dict.fromkeys(["read_manifest", "write_manifest", "RecordsManifest"],
                    ".records.records_manifest"),
    "MaskingConfig": ".masking.masking_config",
    **dict.fromkeys(["ReferenceLayout", "read_layout"], ".records.reference_records"),
})
