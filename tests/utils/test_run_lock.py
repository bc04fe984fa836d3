"""One writer per place: a second process that takes the same lock fails at once."""

import os
import subprocess
import sys
import time

import pytest

from albert_keras.utils.run_lock import PlaceLocked, RunLock, lock_path

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
_HOLD = """
import sys, time
from albert_keras.utils.run_lock import RunLock
with RunLock(sys.argv[1], "albert-keras pretrain --config x.yaml"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(place):
    process = subprocess.Popen([sys.executable, "-c", _HOLD, place], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_fails_at_once_naming_the_holder(tmp_path):
    place = str(tmp_path / "runs" / "tiny")
    holder = _holder(place)
    try:
        started = time.monotonic()
        with pytest.raises(PlaceLocked) as error:
            RunLock(place, "albert-keras pretrain").acquire()
        assert time.monotonic() - started < 1.0  # At once, no waiting.
        message = str(error.value)
        assert place in message and f"pid {holder.pid} on host" in message
        assert "albert-keras pretrain --config x.yaml" in message
    finally:
        holder.kill()
        holder.wait()
    # A killed holder leaves its file, but not its lock: the place is free again.
    assert os.path.exists(lock_path(place))
    with RunLock(place, "albert-keras pretrain") as lock:
        assert f"pid {os.getpid()}" in open(lock.path).read()
    assert not os.path.exists(lock_path(place))  # Removed on release.


def test_the_holding_process_may_nest_and_the_lock_sits_beside_the_place(tmp_path):
    place = str(tmp_path / "records" / "tiny")
    assert lock_path(place) == str(tmp_path / "records" / ".tiny.lock")
    assert lock_path(place, inside=True) == str(tmp_path / "records" / "tiny" / ".lock")
    with RunLock(place):
        with RunLock(place):
            pass
        assert os.path.exists(lock_path(place))  # The outer holder still holds it.
    assert not os.path.exists(lock_path(place))


def test_folders_made_for_the_lock_alone_are_removed(tmp_path):
    with RunLock(str(tmp_path / "a" / "b" / "run")):
        assert os.path.isdir(tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []  # A job that wrote nothing leaves nothing.
    with RunLock(str(tmp_path / "a" / "run")):
        os.makedirs(tmp_path / "a" / "run")  # The job's output.
    assert os.listdir(tmp_path / "a") == ["run"]


def test_a_lock_inside_its_place_leaves_the_place_as_it_was(tmp_path):
    base = tmp_path / "saved_models"
    with RunLock(str(base), inside=True) as lock:
        assert lock.path == str(base / ".lock") and os.path.isfile(lock.path)
    assert not base.exists()  # Made for the lock alone.
    (base / "model" / "1").mkdir(parents=True)
    with RunLock(str(base), inside=True):
        with pytest.raises(PlaceLocked, match="saved_models is being written"):
            _other_process_locks(str(base))
    assert os.listdir(base) == ["model"]


def _other_process_locks(place):
    script = ("import sys\nfrom albert_keras.utils.run_lock import RunLock\n"
              "RunLock(sys.argv[1], inside=True).acquire()\n")
    result = subprocess.run([sys.executable, "-c", script, place], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    if result.returncode:
        raise PlaceLocked(result.stderr.strip().splitlines()[-1])
