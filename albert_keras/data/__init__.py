"""Pretraining data: corpus -> tokenizer -> sentence pairs -> TFRecord shards -> masked batches."""

from albert_keras.data.corpus import read_documents
from albert_keras.data.data_config import DataConfig
from albert_keras.data.features import feature_spec, parse_examples, serialize_example
from albert_keras.data.masking import mask_tokens
from albert_keras.data.pairs import create_pairs
from albert_keras.data.prepare import prepare
from albert_keras.data.pretraining_dataset import (match_files, pretraining_dataset,
                                                   pretraining_dataset_from_config, verify_shards)
from albert_keras.data.tokenizers import (continuation_table, load_tokenizer, save_tokenizer,
                                          special_token_ids, train_tokenizer)
from albert_keras.data.writer import read_manifest, write_shards
