"""What the tests share, in one package: test modules import from here, never from one
another (`tests/test_test_layout.py`).

- `round_trips`: config, `.keras` and SavedModel round-trips, outputs close;
- `tiny_data`, `tiny_tokenizers`: tiny encoder inputs, pipelines, records and tokenizers;
- `processes`: free ports, scripts loaded by path, CLI runs killed at a chosen moment;
- `compare_runs`: tiny comparisons (in process or the CLI, killed at a chosen moment) and
  planted backups;
- `finetune_data`, `pipeline_records`, `export_models`, `convert_models`, `deploy_manifests`:
  the labelled files, records, exports, checkpoints and launchers of one stage's tests;
- `distributed_worker.py`, `model_server.py`, `kill_when.py`: scripts the tests run in fresh
  processes.

The names of the first four are also importable from here (`from tests.helpers import
wordpiece`).
"""

from tests.helpers.processes import free_ports, load_script, run_cli
from tests.helpers.round_trips import (assert_config_round_trip, assert_keras_file_round_trip,
                                       assert_outputs_close, assert_saved_model_round_trip)
from tests.helpers.tiny_data import (tiny_inputs, tiny_pretraining_config,
                                     write_varied_length_records)
from tests.helpers.tiny_tokenizers import (BAD_TEXTS, CLS, PAD, SEP, WORDPIECE_VOCAB, WORDS,
                                           sentencepiece, sentencepiece_proto, wordpiece)

__all__ = ["free_ports", "load_script", "run_cli", "assert_config_round_trip",
           "assert_keras_file_round_trip", "assert_outputs_close",
           "assert_saved_model_round_trip", "tiny_inputs", "tiny_pretraining_config",
           "write_varied_length_records", "BAD_TEXTS", "CLS", "PAD", "SEP", "WORDPIECE_VOCAB",
           "WORDS", "sentencepiece", "sentencepiece_proto", "wordpiece"]
