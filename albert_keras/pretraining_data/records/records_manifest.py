"""`RecordsManifest`: the `manifest.json` beside pretraining shards, as a typed object.

`prepare` (either runner) writes one; `pretraining_dataset`, `check_records`, `pretrain` and
`compare` read it. The JSON stays one flat object, so manifests written before this class
existed still load: keys they lack take the defaults below, keys this class does not know are
kept aside in `other` and written back unchanged. No TensorFlow needed for local paths; the
directory may be a URL (`file_io`).

The manifest publishes its record set: `prepare` writes it last, after the shards and the
tokenizer, and removes it first when it replaces a set on a URL (`atomic_files`); a set
without one is never read for training (`check_records`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, Mapping

from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_text_atomic
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

MANIFEST = "manifest.json"
HELD_OUT_DIR = "held_out"  # The held-out records (one shard and its manifest) of a record set.


@dataclasses.dataclass(frozen=True)
class RecordsManifest:
    """What a records directory holds and the settings that made it.

    The settings (known before any record is written):

    Args:
        max_sequence_length: int or None. Length of every token row.
        pair_task: str or None. `"nsp"` or `"sop"`.
        static_masking: bool. The records hold their masks. Defaults to False.
        masking: `MaskingConfig`. The masking the records were made for (static) or that the
            reader applies by default (on the fly).
        compression: str or None. `"GZIP"` or None.
        tokenizer: str. The tokenizer folder, relative to the manifest. Defaults to
            `"tokenizer"`.
        tokenizer_kind: str or None. `"sentencepiece"` or `"wordpiece"`.
        vocabulary_size: int or None.
        special_token_ids: dict of str to int, or None. `pad`, `unk`, `cls`, `sep`, `mask`.
        seed: int or None. `data.seed` of the run.
        data_config: dict. The `DataConfig` of the run, as written.
        tensorflow_version: str or None.
        runner: str. The `data.runner` that wrote the records. Defaults to `"local"`.
        document_ids: bool. The records carry `document_id` (each pair's document), as both
            runners write them now. Defaults to False: manifests written before it.

    What was written (counts of the run):

    Args:
        name, output_dir: str or None. The pipeline's name and the records folder.
        documents, sentences, sequences, tokens, sequence_tokens, pair_label_1, files:
            int or None. Counts: documents and sentences read, pairs written, corpus tokens,
            tokens inside the rows, pairs with label 1, corpus files.
        skipped: dict of str to int. Input left out, by reason.
        long_lines_split: int. Lines cut into sentences because they were too long.
        shards: int or None. Number of shard files.
        held_out: dict or None. Counts of the held-out records (`held_out/`), if any.
        seconds: float or None. Wall time of the run.
        shard_files: list of dict. `{"file", "num_sequences", "num_bytes"}` per shard.
        tokenizer_fingerprint: str or None. Digest of the tokenizer's files.
        other: dict. Keys of the JSON this class does not name, kept as read.

    Example:
    ```python
    manifest = RecordsManifest(max_sequence_length=128, pair_task="sop", sequences=10)
    assert RecordsManifest.from_dict(manifest.to_dict()) == manifest
    ```
    """

    max_sequence_length: int | None = None
    pair_task: str | None = None
    static_masking: bool = False
    masking: MaskingConfig = MaskingConfig()
    compression: str | None = None
    tokenizer: str = TOKENIZER_DIR
    tokenizer_kind: str | None = None
    vocabulary_size: int | None = None
    special_token_ids: dict[str, int] | None = None
    seed: int | None = None
    data_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    tensorflow_version: str | None = None
    runner: str = "local"
    document_ids: bool = False
    name: str | None = None
    output_dir: str | None = None
    documents: int | None = None
    sentences: int | None = None
    sequences: int | None = None
    tokens: int | None = None
    sequence_tokens: int | None = None
    pair_label_1: int | None = None
    files: int | None = None
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    long_lines_split: int = 0
    shards: int | None = None
    held_out: dict[str, Any] | None = None
    seconds: float | None = None
    shard_files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tokenizer_fingerprint: str | None = None
    other: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON object of `manifest.json` (`masking` as a dict, `other` merged in)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name != "other"}
        return {**self.other, **fields, "masking": self.masking.to_dict()}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> RecordsManifest:
        """From a `manifest.json` object, old or new (see the module docstring)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"other"}
        known = {key: value for key, value in stored.items() if key in names}
        hints = typing.get_type_hints(cls)
        for key, value in known.items():
            if not _has_type(hints[key], value):
                raise ValueError(f"`{key}` must be {_type_name(hints[key])}. "
                                 f"Received: {key}={value!r}")
        if "masking" in known:
            try:
                known["masking"] = MaskingConfig.from_dict(known["masking"] or {})
            except (TypeError, ValueError) as error:
                raise ValueError(f"`masking`: {error}") from None
        return cls(**known, other={k: v for k, v in stored.items() if k not in names})

    def shard_counts(self) -> dict[str, int]:
        """Records per shard file name, as written."""
        return {entry["file"]: entry["num_sequences"] for entry in self.shard_files}


def write_manifest(output_dir: str, manifest: RecordsManifest) -> str:
    """Writes `manifest` as `{output_dir}/manifest.json` (whole or not at all); returns the path."""
    if not isinstance(manifest, RecordsManifest):
        raise TypeError(f"`manifest` must be a RecordsManifest. Received: {type(manifest).__name__}")
    path = os.path.join(output_dir, MANIFEST)
    return write_text_atomic(path, json.dumps(manifest.to_dict(), indent=2, sort_keys=False)
                             + "\n")


def read_manifest(directory: str) -> RecordsManifest | None:
    """The manifest in `directory`, or None when there is none."""
    path = os.path.join(directory, MANIFEST)
    if not file_io.isfile(path):
        return None
    try:
        stored = json.loads(file_io.read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON (truncated or edited?): {error}. Run "
                         "`albert-keras prepare` again to write the records anew.") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{path} must hold a JSON object. Received: {type(stored).__name__}")
    try:
        return RecordsManifest.from_dict(stored)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _has_type(hint: Any, value: Any) -> bool:
    """Whether a JSON `value` fits a field's type (`MaskingConfig` is stored as an object)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(option, value) for option in typing.get_args(hint))
    kind = typing.get_origin(hint) or hint
    if kind is MaskingConfig:
        return value is None or isinstance(value, dict)  # null: the defaults (old manifests).
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind) if isinstance(kind, type) else True


def _type_name(hint: Any) -> str:
    options = typing.get_args(hint) if typing.get_origin(hint) in (
        typing.Union, types.UnionType) else (hint,)
    names = {type(None): "null", int: "an integer", float: "a number", str: "a string",
             bool: "true or false", dict: "an object", list: "a list", MaskingConfig: "an object"}
    return " or ".join(names.get(typing.get_origin(o) or o, str(o)) for o in options)
