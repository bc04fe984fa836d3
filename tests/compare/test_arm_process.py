"""An arm's process dies with its parent: a real SIGKILL of the parent while the arm runs."""

import os
import signal
import subprocess
import sys
import time


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_PARENT = """
import sys
from albert_keras.compare.arm_process import run_in_child
from tests.compare.sleeping_arm import announce_and_sleep
run_in_child(announce_and_sleep, (sys.argv[1],), name="arm-sleeper")
"""


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (a killed orphan may wait to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_an_arm_dies_when_its_parent_is_killed(tmp_path):
    started = tmp_path / "arm.pid"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(started)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the arm never started"
        child = int(started.read_text())
        assert child != parent.pid and _running(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child), f"arm process {child} outlived its killed parent"
    finally:
        parent.kill()
        if os.path.exists(started) and _running(int(started.read_text())):
            os.kill(int(started.read_text()), signal.SIGKILL)


def test_an_orphan_ends_at_once():
    """A parent that died before the arm armed its signal: the arm does not start its work."""
    script = ("from albert_keras.compare.arm_process import die_with_parent\n"
              "die_with_parent(1)\nprint('worked anyway')\n")  # Not our parent's id.
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 1 and "worked anyway" not in result.stdout


def test_a_worker_pool_keeps_order_shares_the_cores_and_belongs_to_this_process():
    from albert_keras.compare.arm_process import worker_pool
    from tests.compare.sleeping_arm import worker_facts

    with worker_pool(2) as pool:
        facts = list(pool.map(worker_facts, range(6)))
    assert [index for index, _, _ in facts] == list(range(6))
    assert {parent for _, parent, _ in facts} == {os.getpid()}
    assert {threads for _, _, threads in facts} == {max(1, (os.cpu_count() or 1) // 2)}
