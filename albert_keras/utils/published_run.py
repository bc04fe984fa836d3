"""`publish_run`: a run directory's outputs, replaced as one unit.

A run's outputs (`encoder.keras` / `model.keras`, `pretrainer.keras`, `tokenizer/`, `labels.json`,
`summary.json` / `report.json`, ...) belong together: a model with another run's tokenizer
answers nonsense. Replacing them one file after the other lets a kill leave a mix, so they are
published whole:

```
run_dir/
  model.keras -> .published/current/model.keras     (one relative link per output)
  tokenizer   -> .published/current/tokenizer
  .published/current -> 00003                        (the one link swapped to publish)
  .published/00003/   model.keras, tokenizer/, ..., run.json
```

A new version is written into `.published/.partial-NNNNN.<pid>/`, flushed, renamed to
`.published/NNNNN/`, and made current by replacing the `current` link in one `rename`: a kill
at any moment leaves every output of the previous run or every output of the new one. `run.json`
(written into each version) records what belongs together, the fingerprint of the tokenizer
the model was trained with among it (`check_tokenizer_matches`). A run directory made before
this layout (plain files) is first adopted as a version of its own, without copying (hard
links), so that it too stays whole until the new version replaces it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Callable

from albert_keras.utils.atomic_files import (TEMPORARY_MARK, fsync_directory, fsync_tree,
                                             process_alive)

PUBLISHED_DIR = ".published"
CURRENT = "current"
RUN_RECORD = "run.json"
_VERSION = re.compile(r"\d{5}$")
_STAGING = re.compile(re.escape(TEMPORARY_MARK) + r".*\.(\d+)(\.old|\.link)?$")


def publish_run(run_dir: str, write: Callable[[str], Any], record: dict[str, Any]) -> str:
    """Publishes the outputs that `write(staging)` puts into the (existing, empty) directory
    `staging` as `run_dir`'s outputs, all at once; `record` is written beside them as
    `run.json` (with `outputs`, the names published). Returns the version directory."""
    published = os.path.join(run_dir, PUBLISHED_DIR)
    os.makedirs(published, exist_ok=True)
    _remove_dead_staging(published)
    _remove_dead_staging(run_dir)
    if not os.path.lexists(os.path.join(published, CURRENT)):
        _adopt_plain_outputs(run_dir, published)

    version = _next_version(published)
    staging = os.path.join(published, f"{TEMPORARY_MARK}{version}.{os.getpid()}")
    os.makedirs(staging)
    try:
        write(staging)
        names = sorted(name for name in os.listdir(staging) if name != RUN_RECORD)
        with open(os.path.join(staging, RUN_RECORD), "w", encoding="utf-8") as f:
            json.dump({**record, "outputs": names}, f, indent=2)
        fsync_tree(staging)
        os.replace(staging, os.path.join(published, version))
        fsync_directory(published)
    finally:  # A failed write (a full disk, a bad model) leaves the published run as it was.
        shutil.rmtree(staging, ignore_errors=True)

    for name in names:  # Links that show the current version (dangling until it has `name`).
        _link_to_current(run_dir, name)
    _point_current(published, version)  # The commit: one rename.
    _remove_old_versions(run_dir, published, version)
    return os.path.join(published, version)


def published_record(model_path: str) -> tuple[dict[str, Any], str] | None:
    """`(run.json, its path)` of the published version that holds `model_path`, or None (a
    model made before published runs, or one from elsewhere)."""
    path = os.path.join(os.path.dirname(os.path.realpath(model_path)), RUN_RECORD)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f), path


def check_tokenizer_matches(model_path: str, model_vocabulary_size: int | None,
                            tokenizer_path: str, tokenizer_vocabulary_size: int,
                            fingerprint: str | None) -> None:
    """Refuses a tokenizer that is not the one the model at `model_path` was trained with.

    The published record beside the model names the fingerprint of its tokenizer: another
    `fingerprint` is refused. Without a record (a run made before them), a tokenizer whose
    vocabulary size differs from the model's embedding (`model_vocabulary_size`) is refused.
    Each refusal is one line naming both.
    """
    found = published_record(model_path)
    expected = found[0].get("tokenizer_fingerprint") if found else None
    if expected and fingerprint:
        if expected != fingerprint:
            raise ValueError(
                f"The tokenizer {tokenizer_path} (fingerprint {fingerprint[:12]}) is not the one "
                f"{model_path} was trained with (fingerprint {expected[:12]}, recorded in "
                f"{found[1]}); use the tokenizer/ published with the model.")
        return
    if model_vocabulary_size is not None and model_vocabulary_size != tokenizer_vocabulary_size:
        raise ValueError(
            f"The tokenizer {tokenizer_path} ({tokenizer_vocabulary_size} tokens) does not belong "
            f"to {model_path} (vocabulary_size={model_vocabulary_size}); use the tokenizer the "
            "model was trained with.")


def _next_version(published: str) -> str:
    numbers = [int(name) for name in os.listdir(published) if _VERSION.match(name)]
    return f"{max(numbers, default=0) + 1:05d}"


def _point_current(published: str, version: str) -> None:
    link = os.path.join(published, f"{TEMPORARY_MARK}{CURRENT}.{os.getpid()}")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(version, link)
    os.replace(link, os.path.join(published, CURRENT))
    fsync_directory(published)


def _link_to_current(run_dir: str, name: str) -> None:
    """Makes `run_dir/name` the link `.published/current/name`; a plain file or directory
    there (adopted as a version already) is moved aside first."""
    path = os.path.join(run_dir, name)
    target = os.path.join(PUBLISHED_DIR, CURRENT, name)
    if os.path.islink(path) and os.readlink(path) == target:
        return
    aside = None
    if os.path.isdir(path) and not os.path.islink(path):
        aside = os.path.join(run_dir, f"{TEMPORARY_MARK}{name}.{os.getpid()}.old")
        os.replace(path, aside)  # A directory cannot be renamed over; a link can.
    link = os.path.join(run_dir, f"{TEMPORARY_MARK}{name}.{os.getpid()}.link")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)
    os.replace(link, path)
    fsync_directory(run_dir)
    if aside:
        shutil.rmtree(aside, ignore_errors=True)


def _adopt_plain_outputs(run_dir: str, published: str) -> None:
    """Turns the plain outputs of a run made before published runs into the current version
    (hard links, no copy), so that publishing over them keeps them whole until the swap."""
    names = [name for name in _PLAIN_OUTPUTS
             if os.path.lexists(os.path.join(run_dir, name))
             and not os.path.islink(os.path.join(run_dir, name))]
    if not names:
        return
    version = _next_version(published)
    staging = os.path.join(published, f"{TEMPORARY_MARK}{version}.{os.getpid()}")
    os.makedirs(staging)
    for name in names:
        source, copy = os.path.join(run_dir, name), os.path.join(staging, name)
        if os.path.isdir(source):
            shutil.copytree(source, copy, copy_function=_link_or_copy)
        else:
            _link_or_copy(source, copy)
    with open(os.path.join(staging, RUN_RECORD), "w", encoding="utf-8") as f:
        json.dump({"adopted": "a run published before run.json existed", "outputs": names}, f)
    fsync_tree(staging)
    os.replace(staging, os.path.join(published, version))
    _point_current(published, version)
    for name in names:
        _link_to_current(run_dir, name)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _remove_old_versions(run_dir: str, published: str, current: str) -> None:
    for name in os.listdir(published):
        if _VERSION.match(name) and name != current:
            shutil.rmtree(os.path.join(published, name), ignore_errors=True)
    for name in os.listdir(run_dir):  # Links to an output the new version does not have.
        path = os.path.join(run_dir, name)
        if (os.path.islink(path) and os.readlink(path).startswith(PUBLISHED_DIR + os.sep)
                and not os.path.exists(path)):
            os.remove(path)


def _remove_dead_staging(directory: str) -> None:
    """Removes what killed publishers left in `directory` (their process is gone): staged
    versions, links not yet in place, outputs moved aside (an adopted version holds them)."""
    for name in os.listdir(directory):
        match = _STAGING.match(name)
        if match and not process_alive(int(match.group(1))):
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


# The names a run of `pretrain` or `finetune` publishes (adopted from runs made before).
_PLAIN_OUTPUTS = ("encoder.keras", "pretrainer.keras", "model.keras", "tokenizer", "labels.json",
                  "summary.json", "report.json", "report.md")
