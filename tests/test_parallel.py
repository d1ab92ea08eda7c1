"""kad/parallel.py: chunks of work on forked processes, results in order, memory bounded, and no
worker outliving the build."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kad import parallel

ROOT = Path(__file__).resolve().parent.parent


def _slow_when_even(chunk):
    """Even chunks take longer, so that a pool would finish them out of order."""
    if chunk[0] % 2 == 0:
        time.sleep(0.05)
    return os.getpid(), [value * 10 for value in chunk]


def test_results_come_in_the_order_of_the_chunks():
    results = list(parallel.ordered_map(_slow_when_even, parallel.chunked(range(20), 1), processes=2))
    assert [values for _, values in results] == [[value * 10] for value in range(20)]


def test_the_chunks_run_in_other_processes():
    pids = {pid for pid, _ in parallel.ordered_map(_slow_when_even, parallel.chunked(range(8), 1), processes=2)}
    assert os.getpid() not in pids


def test_one_process_runs_in_this_one():
    pids = {pid for pid, _ in parallel.ordered_map(_slow_when_even, parallel.chunked(range(4), 1), processes=1)}
    assert pids == {os.getpid()}


def test_a_sigterm_to_the_workers_leaves_the_stopping_to_the_build():
    """A SIGTERM sent to the whole process group reaches the workers too: they carry on (killed
    while sending a result, one would leave the pool waiting for ever); the build decides. In a
    subprocess, since the old behaviour was a pool that never ended."""
    script = textwrap.dedent("""
        import os, signal
        from kad import parallel
        def signalled(chunk):
            os.kill(os.getpid(), signal.SIGTERM)
            return os.getpid() != parent, sum(chunk)
        parent = os.getpid()
        print(list(parallel.ordered_map(signalled, parallel.chunked(range(6), 2), processes=2)))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[(True, 1), (True, 5), (True, 9)]", done.stderr


def test_a_worker_gets_a_function_that_could_not_be_pickled():
    offset = 7
    results = parallel.ordered_map(lambda chunk: [value + offset for value in chunk], [[1], [2]], processes=2)
    assert list(results) == [[8], [9]]


def test_no_more_than_two_chunks_per_worker_are_read_ahead():
    pulled = []

    def chunks():
        for number in range(100):
            pulled.append(number)
            yield [number]

    results = parallel.ordered_map(_slow_when_even, chunks(), processes=2)
    next(results)
    assert len(pulled) <= 4
    results.close()


def _fails_on_three(chunk):
    if 3 in chunk:
        raise ValueError("three")
    return chunk


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(ValueError, match="three"):
        list(parallel.ordered_map(_fails_on_three, parallel.chunked(range(6), 1), processes=2))


def test_chunked_keeps_every_item():
    assert list(parallel.chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_workers_die_with_a_parent_that_is_killed():
    """A build killed outright (SIGKILL) must not leave workers holding its temporary file's lock."""
    script = textwrap.dedent("""
        import os, time
        from kad import parallel
        def work(chunk):
            os.write(1, f"{os.getpid()}\\n".encode())  # one write: the two workers' lines never interleave
            time.sleep(60)
        for _ in parallel.ordered_map(work, [[1], [2]], processes=2):
            pass
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    workers = [int(parent.stdout.readline()) for _ in range(2)]
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_nothing_to_do_starts_no_pool(monkeypatch):
    monkeypatch.setattr(parallel, "_pool", lambda *arguments: pytest.fail("a pool was started"))
    assert list(parallel.ordered_map(_slow_when_even, iter([]), processes=2)) == []


def test_a_pool_stopped_as_soon_as_it_is_forked_always_ends():
    """A pool stopped by an error right after its start ends. It used to hang: a SIGTERM sent
    before a new worker set its handler was lost, and Pool.terminate could kill a worker while it
    held the result queue's lock (about one stop in 1,000)."""
    script = textwrap.dedent("""
        from kad import parallel
        def chunks():
            yield [1]
            raise RuntimeError("stop")
        for _ in range(1000):
            try:
                list(parallel.ordered_map(sum, chunks(), processes=2))
            except RuntimeError:
                pass
        print("ended")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.stdout.strip() == "ended", done.stderr
