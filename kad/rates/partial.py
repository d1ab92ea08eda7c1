"""One file's rows, written as the extractor gives them: to its Parquet partial (the partitioned
result under `<out>/partials/`) and to its feed fragment (the JSON Lines the reduce copies into
the feed as they are, so the client does no per-row work after the tasks).

Rows arrive in runs (row fields shared by many NPIs): a batch keeps each run's fields once and
the NPIs, and Arrow repeats the fields for the Parquet columns (`take`), so neither memory nor
time goes into a Python object per row and field.
"""

import itertools
from array import array

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from . import ROW_FIELDS

SCHEMA = pa.schema([(name, pa.float64() if kind == "float64" else pa.string()) for name, kind in ROW_FIELDS.items()])
RUN_FIELDS = [name for name in ROW_FIELDS if name not in ("npi", "file_url")]
BATCH = 65536  # rows per Parquet row group; memory holds one batch
ENCODE = msgspec.json.encode


class PartialWriter:
    def __init__(self, parquet_path, fragment_path, file_url):
        self.file_url = file_url
        self.parquet = pq.ParquetWriter(parquet_path, SCHEMA)
        self.fragment = open(fragment_path, "w", encoding="utf-8")
        self._reset()

    def _reset(self):
        self.runs = {name: [] for name in RUN_FIELDS}
        self.run_of_row = array("i")
        self.npis = []

    def write(self, fields, npis):
        """One run: the row fields but the NPI, and its NPIs (str, or None for TIN only)."""
        run = len(self.runs["billing_code"])
        for name in RUN_FIELDS:
            self.runs[name].append(fields[name])
        self.run_of_row.extend(itertools.repeat(run, len(npis)))
        self.npis.extend(npis)
        head = ENCODE({"kind": "negotiated_rate", **{name: fields[name] for name in RUN_FIELDS},
                       "file_url": self.file_url})[:-1].decode("utf-8") + ',"npi":'
        # NPIs are digits (extract._npi), so they go into the JSON as they are
        if None in npis:
            self.fragment.write("".join(f'{head}"{npi}"}}\n' if npi else f"{head}null}}\n" for npi in npis))
        else:
            self.fragment.write(f'{head}"' + f'"}}\n{head}"'.join(npis) + '"}\n')
        if len(self.npis) >= BATCH:
            self.flush()

    def flush(self):
        if not self.npis:
            return
        rows = len(self.npis)
        take = pa.Array.from_buffers(pa.int32(), rows, [None, pa.py_buffer(self.run_of_row)])
        columns = {name: pa.array(values, SCHEMA.field(name).type).take(take) for name, values in self.runs.items()}
        columns["npi"] = pa.array(self.npis, pa.string())
        columns["file_url"] = pa.array(itertools.repeat(self.file_url, rows), pa.string(), size=rows)
        self.parquet.write_table(pa.Table.from_arrays([columns[name] for name in SCHEMA.names], schema=SCHEMA))
        self._reset()

    def close(self):
        try:
            self.flush()
        finally:
            self.parquet.close()
            self.fragment.close()
