"""Benchmarks of the build, the directory's slowest pages and serving under load, on synthetic
clinics (and the checked-in data for the load test).

    python -m bench.run [--sizes 1000,10000,100000] [--out BENCHMARKS.md]   # everything (make bench)
    python -m bench.load [--clients 1,32,128] [--duration 20]               # serving under load only

Everything here writes into temporary folders, never into data/ (docs/data-contract.md, "Where the data comes from").
"""


from kad import parallel

own_peak_rss_kb = parallel.peak_rss_kb  # the benches' and the build workers' one reader of VmHWM
