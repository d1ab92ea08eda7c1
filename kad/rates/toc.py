"""Reading a table-of-contents file (CMS schema: `reporting_structure` -> `reporting_plans` and
`in_network_files`) into one job per in-network file, streamed so a large payer's index never
sits in memory whole. A file listed under several reporting structures becomes one job with the
plans of all of them."""

from dataclasses import dataclass, field

from .extract import BLOCK, HeaderReader, check_version, json_backend
from .source import Checked, json_stream, open_source

PLAN_FIELDS = ("plan_name", "plan_id_type", "plan_id", "plan_sponsor_name", "plan_market_type", "issuer_name")
TOC_KEYS = ("reporting_entity_name", "reporting_entity_type", "last_updated_on", "version")


@dataclass
class FileJob:
    """One in-network file to read, with the plans it serves (empty for a file given alone)."""
    url: str
    description: str = ""
    plans: list = field(default_factory=list)
    toc_url: str | None = None
    reporting_entity_name: str | None = None
    insurer_id: str | None = None


def read_toc(location):
    """(header fields, [FileJob]) for the table of contents at a path or address."""
    backend = json_backend()
    header = HeaderReader(backend, TOC_KEYS, ("reporting_structure",), "version")
    jobs = {}
    with open_source(location) as (raw, _), json_stream(raw) as stream:
        reader = Checked(stream, header.watch)
        for structure in backend.items(reader, "reporting_structure.item", buf_size=BLOCK):
            plans = [{key: plan.get(key) for key in PLAN_FIELDS}
                     for plan in structure.get("reporting_plans") or [] if isinstance(plan, dict)]
            for entry in structure.get("in_network_files") or []:
                if not isinstance(entry, dict) or not entry.get("location"):
                    continue
                job = jobs.setdefault(entry["location"], FileJob(
                    url=entry["location"], description=entry.get("description") or "", toc_url=str(location)))
                job.plans.extend(plan for plan in plans if plan not in job.plans)
    fields = header.finish() if reader.watch is not None else header.fields
    check_version(fields.get("version"))
    for job in jobs.values():
        job.reporting_entity_name = fields.get("reporting_entity_name")
    return fields, list(jobs.values())
