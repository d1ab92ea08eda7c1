"""The feed records the spiders yield: one JSON object per clinic location, and the records of the
spiders that check sources, list bills, read insurer policy pages, match NPIs and read payers'
network data.

Each kind's keys, their order, types and empty values are the schema of ``kad.records`` (the one
validation layer the pipelines and the build share); ``build_db.py`` reads these keys from
``data/feeds/*.jsonl``; their meaning is part of the contract in docs/data-contract.md. A fact
the source does not give is ``None`` (or ``[]`` for a list), never a guess.
"""

from datetime import datetime, timezone

from kad.records import (BILL, CLINIC, INSURANCE_STATUSES, KINDS, NETWORK, NPI, POLICY_PAGE, SOURCE_CHECK,
                         VOCAB_FIELDS)

__all__ = ["BILL", "CLINIC", "INSURANCE_STATUSES", "NETWORK", "NPI", "POLICY_PAGE", "SOURCE_CHECK", "VOCAB_FIELDS",
           "ITEM_FIELDS", "CLINIC_FIELDS", "SOURCE_CHECK_FIELDS", "BILL_FIELDS", "POLICY_PAGE_FIELDS",
           "NPI_FIELDS", "NETWORK_FIELDS", "LIST_FIELDS", "item_kind", "new_clinic", "new_record", "utc_now"]

# kind -> {key: empty value}, in feed order
ITEM_FIELDS = {kind: schema.empty_record() for kind, schema in KINDS.items()}
CLINIC_FIELDS = ITEM_FIELDS[CLINIC]
SOURCE_CHECK_FIELDS = ITEM_FIELDS[SOURCE_CHECK]
BILL_FIELDS = ITEM_FIELDS[BILL]
POLICY_PAGE_FIELDS = ITEM_FIELDS[POLICY_PAGE]
NPI_FIELDS = ITEM_FIELDS[NPI]
NETWORK_FIELDS = ITEM_FIELDS[NETWORK]
LIST_FIELDS = tuple(key for key, empty in CLINIC_FIELDS.items() if empty == [])


def utc_now():
    """'2025-03-01T12:00:00Z'."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def item_kind(spidercls):
    """The kind of record a spider yields (``item_kind``; clinic when it does not say)."""
    return getattr(spidercls, "item_kind", CLINIC)


def new_record(kind, **values):
    """A complete record of a kind: every key, in order, the given values, the rest empty; the
    time stamp (checked_at / retrieved_at) is now unless given."""
    record = KINDS[kind].empty_record()
    unknown = set(values) - set(record)
    if unknown:
        raise KeyError(f"not {kind} record keys: {sorted(unknown)}")
    record.update(values)
    stamp = "checked_at" if "checked_at" in record else "retrieved_at"
    record[stamp] = record[stamp] or utc_now()
    return record


def new_clinic(**values):
    return new_record(CLINIC, **values)
