"""The text classification task's encoding: `[CLS] text [SEP] text_pair [SEP]` rows."""

import numpy as np

from albert_keras.tasks.inputs.labeled_examples import ClassificationExample
from tests.helpers import finetune_data

CLS, SEP = 2, 3


def test_text_pairs_get_segment_one():
    examples = [ClassificationExample(text="good movie", text_pair="bad plot", label="pos",
                                      source="m", row=2)]
    encoded = finetune_data.encode(examples, "text_classification", finetune_data.tokenizer(),
                              ("neg", "pos"), max_sequence_length=16)
    np.testing.assert_array_equal(encoded.segment_ids[0], [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(encoded.token_ids[0][[0, 3, 6]], [CLS, SEP, SEP])
