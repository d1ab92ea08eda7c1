"""The feed record every clinic spider yields: one JSON object per clinic location.

``build_db.py`` reads these keys from ``data/feeds/*.jsonl``; they are part of the contract in
DESIGN.md. A fact the source does not give is ``None`` (or ``[]`` for a list), never a guess.
"""

from datetime import datetime, timezone

INSURANCE_STATUSES = ("in_network", "case_by_case", "superbill", "not_covered", "unknown")
VOCAB_FIELDS = ("treatments", "conditions", "insurers")

# key -> empty value; the order is the order of the keys in the feed.
CLINIC_FIELDS = {
    "source_id": None,
    "name": None,
    "operator": None,
    "street": None,
    "city": None,
    "state": None,
    "postal_code": None,
    "phone": None,
    "website": None,
    "npi": None,
    "latitude": None,
    "longitude": None,
    "treatments": [],
    "conditions": [],
    "insurers": [],
    "unmapped": {},
    "ketamine_insurance": "unknown",
    "spravato_insurance": "unknown",
    "accepts_medicare": None,
    "accepts_medicaid": None,
    "accepts_tricare": None,
    "va_community_care": None,
    "financing": [],
    "price_initial_usd": None,
    "price_subsequent_usd": None,
    "price_series_usd": None,
    "series_count": None,
    "price_consultation_usd": None,
    "spravato_rems_certified": None,
    "clinician_types": [],
    "taxonomy": None,
    "sources": [],
    "retrieved_at": None,
}
LIST_FIELDS = tuple(key for key, empty in CLINIC_FIELDS.items() if empty == [])


def empty_value(key):
    value = CLINIC_FIELDS[key]
    if key == "unmapped":
        return {field: [] for field in VOCAB_FIELDS}
    return list(value) if isinstance(value, list) else value


def utc_now():
    """'2025-03-01T12:00:00Z'."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_clinic(**values):
    """A complete record: every contract key, the given values, the rest empty."""
    unknown = set(values) - set(CLINIC_FIELDS)
    if unknown:
        raise KeyError(f"not feed record keys: {sorted(unknown)}")
    record = {key: empty_value(key) for key in CLINIC_FIELDS}
    record.update(values)
    record["retrieved_at"] = record["retrieved_at"] or utc_now()
    return record
