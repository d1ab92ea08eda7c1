"""Benchmarks of the build and of the directory's slowest pages, on synthetic clinics only.

    python -m bench.run [--sizes 1000,10000,100000] [--out BENCHMARKS.md]

Everything here writes into temporary folders, never into data/ (see DESIGN.md, "Honest data").
"""
