"""What every fine-tuning task answers: the settings it refuses and those it serves with."""

import pytest

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import ServingSettings, task_named


def test_multi_label_needs_classification_and_query_needs_room():
    """Each task checks the settings it cannot use (`finetune` asks it first, before data)."""
    with pytest.raises(ValueError, match="multi_label"):
        task_named("token_classification").check_config(
            FinetuneConfig(task="token_classification", multi_label=True))
    with pytest.raises(ValueError, match="max_query_length"):
        task_named("span_extraction").check_config(
            FinetuneConfig(task="span_extraction", max_sequence_length=32, max_query_length=30))
    task_named("text_classification").check_config(FinetuneConfig(multi_label=True))


def test_each_task_serves_with_the_settings_it_trained_with():
    text = task_named("text_classification").serving_settings(
        FinetuneConfig(multi_label=True, max_sequence_length=32), ("a", "b"))
    assert text == ServingSettings(task="text_classification", labels=("a", "b"),
                                   multi_label=True, max_sequence_length=32)
    assert text.doc_stride is None and text.max_query_length is None  # Not a span task.
    tags = task_named("token_classification").serving_settings(
        FinetuneConfig(task="token_classification"), ("O", "X"))
    assert (tags.task, tags.labels, tags.multi_label) == ("token_classification", ("O", "X"), False)
    for doc_stride in (None, 5):
        ft = FinetuneConfig(task="span_extraction", max_sequence_length=48, max_query_length=9,
                            max_answer_length=7, doc_stride=doc_stride)
        spans = task_named("span_extraction").serving_settings(ft, None)
        # The stride the training reads windows with, never None: (48 - 3 - 9) // 2 when unset.
        assert spans.doc_stride == ft.context_stride() == (doc_stride or 18)
        assert (spans.max_query_length, spans.max_answer_length, spans.labels) == (9, 7, None)
