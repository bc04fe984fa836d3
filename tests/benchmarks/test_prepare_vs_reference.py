"""`benchmarks/prepare_vs_reference.py --copies`: the corpus N times over, each copy its own
files (the 50 MB row of `run_all --full`)."""

import os

import pytest

from tests.helpers import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
script = load_script(os.path.join(REPO, "benchmarks", "prepare_vs_reference.py"),
                     "prepare_vs_reference")


@pytest.mark.parametrize("copies", [1, 3])
def test_copies_hold_every_file_of_every_glob_once_per_copy(tmp_path, copies):
    plays = tmp_path / "plays"
    plays.mkdir()
    texts = {"hamlet.txt": "To be.\n\nOr not.\n", "macbeth.txt": "Out, out.\n", "notes.md": "x"}
    for name, text in texts.items():
        (plays / name).write_text(text)
    corpus = f"{plays}/hamlet*.txt,{plays}/macbeth*.txt"
    pattern = script.copy_corpus(corpus, str(tmp_path / "copies"), copies)
    made = sorted(os.listdir(tmp_path / "copies"))
    assert len(made) == 2 * copies and not any(name.endswith(".md") for name in made)
    assert pattern == str(tmp_path / "copies" / "*")
    for name in made:
        original = name.split("_", 1)[1]
        assert (tmp_path / "copies" / name).read_text() == texts[original]


def test_copies_of_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No corpus file matches"):
        script.copy_corpus(str(tmp_path / "none*.txt"), str(tmp_path / "copies"), 2)


def test_our_prepare_has_the_reference_settings_and_holds_nothing_out(tmp_path):
    from albert_keras.pipeline import load_pipeline

    for workers in (None, 2):
        overrides = script.our_overrides("plays/*.txt", "spm/spiece.model", str(tmp_path), workers)
        config = load_pipeline(os.path.join(REPO, "pipelines", "albert_tiny.yaml"), overrides)
        # The reference writes pairs from every document; so must ours, or it is undercounted.
        assert config.data.held_out_fraction == 0.0
        assert not config.train.phases  # One record set: the one the manifest counts.
        assert config.data.num_workers == workers
        for key, value in script.SETTINGS.items():
            assert getattr(config.data, key) == value, key
