"""The temporary files of a build, kept beside the database they become (never in /tmp), so one
cleanup covers them all: ``.ketamine-<pid>-<random>.db.tmp`` (the new database, renamed over
the old one at the end) and ``.ketamine-<pid>-<random>-staging.db.tmp`` (the clinic records
while they are merged).

A build holds an exclusive flock on each of its files while it runs. It removes them when it
ends in any way Python sees: normally, on an error, on SIGINT (Ctrl-C) or on SIGTERM
(``stop_on_signals`` turns SIGTERM into an exception, as Python already does with SIGINT). A
build killed outright (SIGKILL, a crash of the machine) cannot, so the next build removes the
files that no live build holds (``remove_stale``): a file is stale only when its flock is free
and the process named in it is gone, so a concurrent build's files are never touched.
"""

import errno
import fcntl
import os
import re
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

PREFIX = ".ketamine-"
SUFFIX = ".db.tmp"
_PID = re.compile(re.escape(PREFIX) + r"(\d+)-")


class Interrupted(BaseException):
    """A signal asked the build to stop (a BaseException, like KeyboardInterrupt, so that no
    `except Exception` keeps the build going)."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals(signums=(signal.SIGTERM,)):
    """Within the block, the signals raise Interrupted, so `finally` blocks and context managers
    clean up. Only the main thread can set handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, stop) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def locked_temp_file(folder, label=""):
    """A new empty file in `folder`, locked for as long as the block runs, then removed (if it
    is still there: the block may have renamed it into place)."""
    while True:
        handle, name = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=f"{label}{SUFFIX}", dir=folder)
        fcntl.flock(handle, fcntl.LOCK_EX)
        path = Path(name)
        try:
            if os.stat(path).st_ino == os.fstat(handle).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(handle)  # another build's cleanup took it in the instant before the lock: again
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(handle)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # it exists, under another user
    return True


def remove_stale(folder):
    """Remove the temporary files of builds that are no longer running; returns their names."""
    removed = []
    for path in sorted(Path(folder).glob(f"{PREFIX}*{SUFFIX}")):
        pid = _PID.match(path.name)
        if pid and _alive(int(pid.group(1))):
            continue
        try:
            handle = os.open(path, os.O_RDONLY)
        except OSError:  # gone already, or not ours to open
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live build holds it
            continue
        else:
            path.unlink(missing_ok=True)
            removed.append(path.name)
        finally:
            os.close(handle)
    return removed
