"""Benchmarks of the build, the directory's slowest pages and serving under load, on synthetic
clinics (and the checked-in data for the load test).

    python -m bench.run [--sizes 1000,10000,100000] [--out BENCHMARKS.md]   # everything (make bench)
    python -m bench.load [--clients 1,32,128] [--duration 20]               # serving under load only

Everything here writes into temporary folders, never into data/ (docs/data-contract.md, "Where the data comes from").
"""


def own_peak_rss_kb():
    """This process's own memory high-water mark (VmHWM), in KB.
    Not ru_maxrss (os.wait4, getrusage): Linux carries a process's maximum over exec, so a child
    reports at least the size of the parent that forked it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None
