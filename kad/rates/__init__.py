"""Negotiated rates from the price-transparency (Transparency in Coverage) files health plans
publish: a table of contents per plan sponsor listing in-network rate files, each a gzip'd JSON
document in CMS's schema (github.com/CMSgov/price-transparency-guide, versions 1.x and 2.x).

* ``toc`` reads a table of contents into one job per in-network file (its plans merged);
* ``source`` opens a local path or an https address as a byte stream, gzip or not;
* ``extract`` streams one in-network file and keeps only the wanted billing codes, resolving
  providers through in-item ``provider_groups`` or ``provider_references`` (anywhere in the
  file, or at a remote ``location``) with flat memory: ``scan`` reads the big arrays in proven
  chunks decoded by msgspec, handing to ijson's C backend what it does not read, and
  ``pending`` keeps what waits (prices, provider groups, rows already written) on disk;
* ``manifest`` remembers what was processed so a re-run skips it;
* ``run`` runs one task per file on Dask (a LocalCluster, or an existing cluster), each writing
  its partial result as partitioned Parquet and a feed fragment (``partial``), and reduces them
  to the feed the build loads (``__main__`` is its command line);
* ``load`` is the build's side: tables ``price_files``, ``negotiated_rates`` and the
  ``network_evidence`` rows of kind ``price_transparency_file``.

Only ``run`` imports Dask, so the build and the pages never pay for it.
"""

# Spravato visits (G2082 up to 56 mg, G2083 over 56 mg), esketamine by the milligram (J0013 from
# 2026, S0013 before), an unclassified drug (J3490, how IV ketamine is usually billed) and IV
# infusion (96365 first hour, 96366 each added hour). The infusion codes are not specific to
# ketamine: pages say so.
DEFAULT_CODES = ("G2082", "G2083", "J0013", "S0013", "J3490", "96365", "96366")
# The code systems those codes belong to; CSTM-ALL / CSTM-00 ("every code") rows are not kept.
CODE_TYPES = ("CPT", "HCPCS")
FEED_NAME = "negotiated_rates"

# One extracted row (a Parquet partial's columns and a feed line's fields); JSON arrays are text.
ROW_FIELDS = {
    "file_url": "string", "billing_code": "string", "billing_code_type": "string",
    "billing_code_type_version": "string", "service_name": "string",
    "negotiation_arrangement": "string", "bundled_codes": "string", "modifiers": "string",
    "negotiated_type": "string", "negotiated_rate": "float64", "billing_class": "string",
    "setting": "string", "service_codes": "string", "expiration_date": "string",
    "additional_information": "string", "npi": "string", "tin": "string", "tin_type": "string",
    "tin_business_name": "string", "network_names": "string",
}
