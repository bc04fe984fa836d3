"""Pretraining text: documents made of sentences, from files, TFDS or the standard library.

`read_documents(corpus)` yields documents as lists of sentence strings. `corpus` is one of
- `"stdlib"`: the built-in zero-download default, English docstrings of Python's standard
  library, one document per module (its module, class and function docstrings in order);
- `"pydocs"`: about nine times more built-in text, still downloading nothing: `"stdlib"`, then
  Python's language-reference topics (`pydoc_data`, one document per topic), then the
  docstrings of the runtime dependencies installed beside this package (`PYDOCS_PACKAGES`, one
  document per module). It is as reproducible as those packages' versions, which
  `pydocs_versions()` lists (pinned by the repository's constraints.txt);
- `"tfds:NAME[:SPLIT]"`: a TFDS text dataset, one document per example (text feature
  `tfds_text_key`, sentences = its non-blank lines);
- file patterns (globs, comma-separated) in the original BERT format: one sentence or paragraph
  per line, a blank line between documents.

Bad input is counted in `stats` (a `collections.Counter`) rather than failing: `empty_files`,
`empty_documents`, `invalid_utf8_lines` (decoded with U+FFFD replacements), `long_lines_split`
(lines over `MAX_LINE_CHARS`, cut at sentence ends, else at spaces, else anywhere, so a corpus
written as one huge line still gives sentences and documents), and the totals `files`,
`documents`, `sentences`. A pattern that matches no file is an error naming it. File patterns
may be URLs (`gs://bucket/corpus/*.txt`; `file_io`).
"""

from __future__ import annotations

import ast
import collections
import glob
import importlib.metadata
import importlib.util
import multiprocessing
import os
import platform
import re
import sysconfig
from typing import Iterator

from albert_keras.utils import file_io

STDLIB = "stdlib"
PYDOCS = "pydocs"
TFDS_PREFIX = "tfds:"

# Standard-library packages whose docstrings join the top-level modules' in the "stdlib" corpus
# (tests, IDLE, lib2to3, tkinter and demos hold little prose).
STDLIB_PACKAGES = ("asyncio", "collections", "concurrent", "email", "html", "http", "importlib",
                   "json", "logging", "multiprocessing", "urllib", "xml", "xmlrpc", "unittest")

# Installed packages whose docstrings follow the standard library's in the "pydocs" corpus: the
# runtime dependencies, so every installation has them.
PYDOCS_PACKAGES = ("numpy", "keras", "keras_hub", "tensorflow")

# Longer lines are cut (SentencePiece's trainer silently drops sentences over 4,192 bytes).
MAX_LINE_CHARS = 1000

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_CODE_LINE = re.compile(r"^\s*(>>>|\.\.\.|\$ |[-=~^*]{3,}\s*$)")


def read_documents(corpus: str, stats: collections.Counter | None = None,
                   max_documents: int | None = None,
                   tfds_text_key: str = "text") -> Iterator[list[str]]:
    """Yields documents (lists of non-empty sentences) from `corpus`, skipping empty ones.

    Args:
        corpus: str. `"stdlib"`, `"tfds:NAME[:SPLIT]"` or comma-separated file globs.
        stats: Counter or None. Receives the counts described in the module docstring.
        max_documents: int or None. Stop after this many non-empty documents.
        tfds_text_key: str. The text feature of a TFDS dataset. Defaults to `"text"`.
    """
    stats = collections.Counter() if stats is None else stats
    if corpus == STDLIB:
        source = _stdlib_documents(stats)
    elif corpus == PYDOCS:
        source = _pydocs_documents(stats)
    elif corpus.startswith(TFDS_PREFIX):
        source = _tfds_documents(corpus[len(TFDS_PREFIX):], tfds_text_key, stats)
    else:
        source = _file_documents(corpus, stats)
    count = 0
    for document in source:
        if not document:
            stats["empty_documents"] += 1
            continue
        if max_documents is not None and count >= max_documents:
            return
        count += 1
        stats["documents"] += 1
        stats["sentences"] += len(document)
        yield document


def corpus_files(corpus: str) -> list[str]:
    """The sorted files that the comma-separated globs in `corpus` match; an error names a
    pattern that matches nothing."""
    files: list[str] = []
    for pattern in (p.strip() for p in corpus.split(",")):
        if not pattern:
            continue
        matches = [p for p in file_io.glob(pattern) if file_io.isfile(p)]
        if not matches:
            raise FileNotFoundError(f"No corpus files match the pattern {pattern!r}")
        files.extend(matches)
    if not files:
        raise FileNotFoundError(f"No corpus files match the pattern {corpus!r}")
    return files


def decode_lines(data: bytes, stats: collections.Counter) -> list[str]:
    """Splits bytes into lines of text; invalid UTF-8 is replaced (U+FFFD) and counted."""
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        lines = []
        for raw in data.splitlines():
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                stats["invalid_utf8_lines"] += 1
                lines.append(raw.decode("utf-8", errors="replace"))
        return lines


def _file_documents(corpus: str, stats: collections.Counter) -> Iterator[list[str]]:
    for path in corpus_files(corpus):
        stats["files"] += 1
        data = file_io.read_bytes(path)
        if not data.strip():
            stats["empty_files"] += 1
            continue
        document: list[str] = []
        for line in decode_lines(data, stats):
            line = _clean(line)
            if line:
                document.extend(split_long_line(line, stats))
            elif document:
                yield document
                document = []
        if document:
            yield document


def _tfds_documents(spec: str, text_key: str, stats: collections.Counter) -> Iterator[list[str]]:
    import tensorflow_datasets as tfds

    name, _, split = spec.partition(":")
    if not name:
        raise ValueError(f"A TFDS corpus looks like 'tfds:NAME[:SPLIT]'. Received: corpus="
                         f"{TFDS_PREFIX + spec!r}")
    dataset = tfds.load(name, split=split or "train", shuffle_files=False)
    for example in tfds.as_numpy(dataset):
        if text_key not in example:
            raise ValueError(f"TFDS dataset {name!r} has no text feature {text_key!r}; "
                             f"features: {sorted(example)} (set data.tfds_text_key)")
        text = example[text_key]
        if isinstance(text, bytes):
            text = "\n".join(decode_lines(text, stats))
        yield [piece for line in text.splitlines()
               for s in _SENTENCE_END.split(_clean(line)) if s
               for piece in split_long_line(s, stats)]


def split_long_line(line: str, stats: collections.Counter) -> list[str]:
    """`line` itself when it has at most `MAX_LINE_CHARS` characters; else pieces of at most
    that length, cut at sentence ends, else at spaces, else anywhere (counted in
    `stats["long_lines_split"]`)."""
    if len(line) <= MAX_LINE_CHARS:
        return [line]
    stats["long_lines_split"] += 1
    pieces = []
    for sentence in _SENTENCE_END.split(line):
        while len(sentence) > MAX_LINE_CHARS:
            cut = sentence.rfind(" ", 0, MAX_LINE_CHARS + 1)
            cut = cut if cut > 0 else MAX_LINE_CHARS
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        pieces.append(sentence)
    return [p for p in pieces if p]


def _stdlib_documents(stats: collections.Counter) -> Iterator[list[str]]:
    """One document per module; the files are parsed by worker processes (order kept)."""
    yield from _docstring_documents(stdlib_files(), stats)


def _pydocs_documents(stats: collections.Counter) -> Iterator[list[str]]:
    yield from _stdlib_documents(stats)
    from pydoc_data import topics

    for name in sorted(topics.topics):
        yield _split_paragraphs(topics.topics[name])
    yield from _docstring_documents([f for package in PYDOCS_PACKAGES
                                     for f in package_files(package)], stats)


def _docstring_documents(files: list[str], stats: collections.Counter) -> Iterator[list[str]]:
    if (os.cpu_count() or 1) > 1:
        # "spawn": a forked child of a process with TensorFlow threads can deadlock.
        with multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
            results = pool.imap(_stdlib_document, files, chunksize=8)
            yield from _counted(results, stats)
    else:
        yield from _counted(map(_stdlib_document, files), stats)


def _counted(results, stats: collections.Counter) -> Iterator[list[str]]:
    for document, counts in results:
        stats.update(counts)
        yield document


def _stdlib_document(path: str) -> tuple[list[str], collections.Counter]:
    counts = collections.Counter(files=1)
    with open(path, "rb") as f:
        source = "\n".join(decode_lines(f.read(), counts))
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return [], counts
    docstrings = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node)
            if docstring:
                docstrings.append(docstring)
    return [s for d in docstrings for s in _split_paragraphs(d)], counts


def stdlib_files() -> list[str]:
    """The standard-library source files of the built-in corpus, in a fixed order."""
    root = sysconfig.get_paths()["stdlib"]
    files = sorted(glob.glob(os.path.join(root, "*.py")))
    for package in STDLIB_PACKAGES:
        files += sorted(glob.glob(os.path.join(root, package, "**", "*.py"), recursive=True))
    return [f for f in files if os.sep + "test" not in f[len(root):]]


def package_files(package: str) -> list[str]:
    """The Python files of an installed package (found without importing it), in a fixed order,
    tests left out; an error names a package that is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"The \"{PYDOCS}\" corpus reads the docstrings of {package!r}, "
                                  "which is not installed")
    files = []
    for root in sorted(spec.submodule_search_locations):
        for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
            parts = os.path.relpath(path, root).split(os.sep)
            if not any(p.startswith("test") or p.endswith("_test.py") for p in parts):
                files.append(path)
    return files


def pydocs_versions() -> dict[str, str]:
    """The versions of Python and of `PYDOCS_PACKAGES` that the "pydocs" corpus is read from."""
    versions = {"python": platform.python_version()}
    for package in PYDOCS_PACKAGES:
        versions[package] = importlib.metadata.version(package.replace("_", "-"))
    return versions


def _split_paragraphs(text: str) -> list[str]:
    """Prose sentences from a docstring-like text: paragraphs joined, code and rules dropped."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.splitlines() if not _CODE_LINE.match(line)]
        joined = _clean(" ".join(line.strip() for line in lines))
        if len(joined.split()) < 3 or sum(c.isalpha() for c in joined) < 0.6 * len(joined):
            continue
        sentences.extend(s for s in _SENTENCE_END.split(joined) if s)
    return sentences


def _clean(line: str) -> str:
    return " ".join(line.split())
