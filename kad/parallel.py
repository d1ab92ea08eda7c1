"""The build's per-record Python work spread over the machine's cores, its results in order.

Checking a clinic record and working out its merge keys, and merging a location's records into
one row, are pure Python and take most of a large build. ``ordered_map`` runs such a function over
chunks of input on a pool of forked processes and yields each chunk's result in the input's
order, so what a build writes, and the order of the problems it reports, are the same whatever
the number of processes. The parent keeps the SQLite connections and does every write.

Forked, not spawned: each worker starts with the parent's vocabularies and ZIP tables already in
memory (load them before the first call), and receives the function once, at its start, without
pickling it. At most two chunks per worker are in flight, so memory stays flat however long the
input. ``KAD_BUILD_PROCESSES`` sets how many processes (1: no pool, everything in the parent).
"""

import collections
import ctypes
import itertools
import multiprocessing
import os
import signal
import sys

# The workers' memory high-water mark (VmHWM, KB: it includes the pages shared with the parent
# at the fork), the largest seen in this process's pools: the benchmarks report it.
worker_peak_kb = 0
_function = None


def process_count():
    configured = os.environ.get("KAD_BUILD_PROCESSES")
    return max(1, int(configured)) if configured else (os.cpu_count() or 1)


def chunked(items, size):
    """Lists of `size` items (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def ordered_map(function, chunks, processes=None):
    """function(chunk) for every chunk, yielded in order; on `processes` forked workers."""
    processes = process_count() if processes is None else processes
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:  # nothing to do: no pool
        return
    chunks = itertools.chain([first], chunks)
    if processes <= 1:
        yield from map(function, chunks)
        return
    pool = _pool(processes, function)
    try:
        pending = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_run, (chunk,)))
            if len(pending) >= 2 * processes:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        # On an error, a signal or a caller that stopped reading too: the workers finish the
        # chunks they hold (two each at most) and leave. Pool.terminate would kill them instead,
        # and a worker killed while sending its result holds the result queue's lock for ever:
        # the pool's task thread then waits on it, and terminate with it.
        pool.close()
        pool.join()


def _result(pending):
    global worker_peak_kb
    result, peak_kb = pending.get()
    worker_peak_kb = max(worker_peak_kb, peak_kb or 0)
    return result


def _pool(processes, function):
    """A pool of forked workers. SIGTERM and SIGINT are blocked while they are forked, until each
    has set its own handlers: one arriving in between would run the parent's (kad/tempfiles.py)
    in the worker."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        return multiprocessing.get_context("fork").Pool(processes, _start_worker, (function, os.getpid(), previous))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(function, parent, mask):
    global _function
    _function = function
    # The parent decides when the build stops (ordered_map then lets its workers finish their
    # chunks): a worker neither turns SIGTERM into the parent's exception (kad/tempfiles.py) nor
    # stops on a SIGTERM or Ctrl-C sent to the whole process group (killed while sending a result,
    # it would leave the pool waiting for ever), and it dies with its parent (a worker left behind
    # would hold the build's temporary-file lock for ever).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _run(chunk):
    return _function(chunk), peak_rss_kb()


def peak_rss_kb():
    """This process's own memory high-water mark (VmHWM), in KB, or None where /proc has none.
    Not ru_maxrss (os.wait4, getrusage): Linux carries a process's maximum over exec, so a child
    reports at least the size of the parent that forked it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
