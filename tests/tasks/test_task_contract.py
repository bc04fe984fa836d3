"""The typed contract of `FineTuningTask`: each task names its example dataclass, and every
method that takes the `finetune` section declares it as `ft: FinetuneConfig`."""

import inspect
import typing

import pytest

from albert_keras.tasks.fine_tuning_task import FineTuningTask
from albert_keras.tasks.inputs.labeled_examples import (ClassificationExample, SpanExample,
                                                     TaggingExample)
from albert_keras.tasks.registry import TASKS, task_named

EXAMPLE_TYPES = {"text_classification": ClassificationExample,
                 "token_classification": TaggingExample, "span_extraction": SpanExample}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_task_names_its_example_type(name):
    task = type(task_named(name))
    (base,) = [b for b in task.__orig_bases__ if typing.get_origin(b) is FineTuningTask]
    assert typing.get_args(base) == (EXAMPLE_TYPES[name],)
    # The readers and `encode` say so in their signatures (annotations are strings here).
    example = EXAMPLE_TYPES[name].__name__
    assert inspect.signature(task.read_file).return_annotation == f"list[{example}]"
    assert inspect.signature(task.encode).parameters["examples"].annotation == f"list[{example}]"


@pytest.mark.parametrize("cls", [FineTuningTask] + [type(task_named(n)) for n in sorted(TASKS)],
                         ids=lambda cls: cls.__name__)
def test_every_method_taking_ft_declares_finetune_config(cls):
    methods = [(name, inspect.signature(method)) for name, method in vars(cls).items()
               if inspect.isfunction(method) and "ft" in inspect.signature(method).parameters]
    assert methods or cls is not FineTuningTask
    assert {name: sig.parameters["ft"].annotation for name, sig in methods} == {
        name: "FinetuneConfig" for name, _ in methods}
