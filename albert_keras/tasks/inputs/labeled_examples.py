"""The examples the fine-tuning tasks' readers return: one frozen dataclass per task.

Each example keeps the `source` (a file path or `tfds:NAME (SPLIT)`) and the `row` it came from,
so that a bad label found later (`FineTuningTask.check_labels`) is still named by file and row.
Stages hand these to each other (reader -> `encode` -> metrics, `task_corpus`); no stage reads
examples as dicts.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ClassificationExample", "LabeledExample", "SpanAnswer", "SpanExample",
           "TaggingExample"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LabeledExample:
    """Where an example came from; the base of every task's example.

    Args:
        source: str. The file (path or URL) or `tfds:NAME (SPLIT)` it was read from.
        row: int. Its row in `source`, counted from 1 (a line of a text file, a record of a
            TFDS split, a question of a SQuAD file).
    """

    source: str
    row: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassificationExample(LabeledExample):
    """One text (or text pair) and its label(s), for `text_classification`.

    Args:
        text: str. The text (the first segment).
        label: str, or tuple of str when `finetune.multi_label` (possibly empty).
        text_pair: str or None. The second segment, when `finetune.text_pair_column` is set.
            Defaults to None.
        source, row: see `LabeledExample`.

    Example:
    ```python
    from albert_keras.tasks import task_named

    example = ClassificationExample(text="a fine film", label="pos", source="mem", row=1)
    assert task_named("text_classification").corpus_texts(example) == ["a fine film"]
    ```
    """

    text: str
    label: str | tuple[str, ...]
    text_pair: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaggingExample(LabeledExample):
    """A sentence given as words, with one tag per word, for `token_classification`.

    Args:
        words: tuple of str. The sentence's words, in order.
        tags: tuple of str. One tag per word (the readers check the lengths agree).
        source, row: see `LabeledExample`.

    Example:
    ```python
    example = TaggingExample(words=("The", "dog"), tags=("DT", "NN"), source="mem", row=1)
    assert dict(zip(example.words, example.tags)) == {"The": "DT", "dog": "NN"}
    ```
    """

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SpanAnswer:
    """One answer of a span-extraction example: `context[answer_start:][:len(text)] == text`.

    Args:
        text: str. The answer, as it is written in the context.
        answer_start: int. Its first character's offset in the context (SQuAD's name).
    """

    text: str
    answer_start: int

    @property
    def answer_end(self) -> int:
        """The offset just past the answer's last character."""
        return self.answer_start + len(self.text)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpanExample(LabeledExample):
    """A question about a context and its answers in it, for `span_extraction` (SQuAD style).

    Args:
        id: str. The question's id (its row number when the file gives none).
        question: str. The question (the query segment).
        context: str. The passage the answer is cut out of.
        answers: tuple of `SpanAnswer`. Training uses the first; scores take the best match
            over all. Empty: no answer (an evaluation-only example). Defaults to `()`.
        source, row: see `LabeledExample`.

    Example:
    ```python
    example = SpanExample(id="q1", question="Who ran?", context="The fox ran.",
                          answers=(SpanAnswer(text="The fox", answer_start=0),),
                          source="mem", row=1)
    answer = example.answers[0]
    assert example.context[answer.answer_start:answer.answer_end] == "The fox"
    ```
    """

    id: str
    question: str
    context: str
    answers: tuple[SpanAnswer, ...] = ()
