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

A run directory given as a URL (`gs://`, ...) has no links and no atomic rename: there the
outputs are written whole under a temporary name in the run directory, `run.json` is removed
(the run is unpublished), the outputs are moved into place, and `run.json` is written last
(`atomic_files.publish_tree`). A run without `run.json` is one whose publishing did not finish:
`published_record` finds none, and `export` refuses such a model on a URL by name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Callable

from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import (TEMPORARY_MARK, fsync_directory, fsync_tree,
                                             process_alive, publish_tree, temporary_path)
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

PUBLISHED_DIR = ".published"
CURRENT = "current"
RUN_RECORD = "run.json"
_VERSION = re.compile(r"\d{5}$")
_STAGING = re.compile(re.escape(TEMPORARY_MARK) + r".*\.(\d+)(\.old|\.link)?$")


def publish_run(run_dir: str, write: Callable[[str], Any], record: dict[str, Any]) -> str:
    """Publishes the outputs that `write(staging)` puts into the (existing, empty) directory
    `staging` as `run_dir`'s outputs, all at once; `record` is written beside them as
    `run.json` (with `outputs`, the names published). Returns the version directory (on a
    URL: `run_dir`, module docstring)."""
    if file_io.is_url(run_dir):
        return _publish_url_run(run_dir, write, record)
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


def _publish_url_run(run_dir: str, write: Callable[[str], Any], record: dict[str, Any]) -> str:
    """`publish_run` on a URL: staged, then moved in with `run.json` last."""
    staging = temporary_path(os.path.join(run_dir, "outputs"))
    file_io.makedirs(staging)
    try:
        write(staging)
        names = [name for name in file_io.listdir(staging) if name != RUN_RECORD]
        file_io.write_text(os.path.join(staging, RUN_RECORD),
                           json.dumps({**record, "outputs": names}, indent=2))
        old = published_record(os.path.join(run_dir, RUN_RECORD))
        file_io.remove(os.path.join(run_dir, RUN_RECORD))  # Unpublished from here on.
        for name in (old[0].get("outputs", []) if old else []):
            if name not in names:
                file_io.remove(os.path.join(run_dir, name))
        for name in names:
            source, target = os.path.join(staging, name), os.path.join(run_dir, name)
            if file_io.isdir(source):
                publish_tree(source, target)
            else:
                file_io.rename(source, target)
        file_io.rename(os.path.join(staging, RUN_RECORD), os.path.join(run_dir, RUN_RECORD))
    finally:
        file_io.remove(staging)
    return run_dir


def published_record(model_path: str) -> tuple[dict[str, Any], str] | None:
    """`(run.json, its path)` of the published version that holds `model_path`, or None (a
    model made before published runs, or one from elsewhere, or on a URL one whose publishing
    did not finish)."""
    directory = os.path.dirname(model_path.rstrip("/")) if file_io.is_url(model_path) \
        else os.path.dirname(os.path.realpath(model_path))
    path = os.path.join(directory, RUN_RECORD)
    if not file_io.isfile(path):
        return None
    return json.loads(file_io.read_text(path)), path


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
_PLAIN_OUTPUTS = ("encoder.keras", "pretrainer.keras", "model.keras", TOKENIZER_DIR, "labels.json",
                  "summary.json", "report.json", "report.md")
