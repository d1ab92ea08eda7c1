"""The feed records the spiders yield: one JSON object per clinic location, and (below) the
records of the spiders that check sources, list bills and read insurer policy pages.

``build_db.py`` reads these keys from ``data/feeds/*.jsonl``; their meaning is part of the
contract in docs/data-contract.md. A fact the source does not give is ``None`` (or ``[]`` for a list), never a guess.
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


# --------------------------------------------------------------------------------------------
# The other kinds of feed record. A spider says which kind it yields (``item_kind``; clinic when
# it does not say), and each pipeline names the kinds it is for (crawlers/pipelines/).

CLINIC = "clinic"
SOURCE_CHECK = "source_check"
BILL = "bill"
POLICY_PAGE = "policy_page"
NPI = "npi"
NETWORK = "network"

# source_check: one re-fetch of one address cited by curated data.
SOURCE_CHECK_FIELDS = {
    "url": None,  # the address exactly as the curated rows cite it
    "final_url": None,  # where it led after redirects
    "http_status": None,  # None when no answer came (DNS, refused, timeout, robots.txt)
    "content_sha256": None,  # of the visible text (HTML) or of the bytes (PDF and others)
    "previous_sha256": None,  # the last hash known before this check
    "changed": False,  # the hash differs from the last hash known
    "changed_at": None,  # the check at which the hash last changed, carried forward
    "disappeared": False,
    "error": None,  # why there is no hash: http_404, robots_txt_disallowed, CannotResolveHostError ...
    "checked_at": None,
    "sources": [],
}
# openstates: one bill of a state legislature.
BILL_FIELDS = {
    "id": None,  # the Open States bill id (ocd-bill/...)
    "state": None,
    "session": None,
    "identifier": None,  # "HB 1234"
    "title": None,
    "status": "unknown",  # one of kad.checks.BILL_STATUSES
    "latest_action": None,
    "latest_action_date": None,
    "subjects": [],
    "matched_terms": [],
    "url": None,
    "sources": [],
    "retrieved_at": None,
}
# insurer_policy: what one policy page states, compared with one curated insurer_policies row.
POLICY_PAGE_FIELDS = {
    "policy_row": None,  # insurer_policies.id of the curated row
    "url": None,  # the curated row's first source
    "found_policy_id": None,
    "found_title": None,
    "found_effective_date": None,
    "found_last_reviewed": None,
    "differs": [],  # fields whose found value is present and not the curated one
    "error": None,  # why nothing was read: http_404, pdf_not_read ...
    "sources": [],
    "retrieved_at": None,
}
# nppes_match and the NPPES bulk loader: one NPI as the registry gives it (identity, never
# network membership), with the directory clinic it was matched to when the matcher found one.
NPI_FIELDS = {
    "npi": None,
    "entity": None,  # organisation | practitioner
    "name": None,  # organisation name, or "LAST, FIRST" of a practitioner
    "other_names": [],
    "taxonomies": [],  # NUCC codes, primary first
    "street": None,  # the primary practice location
    "city": None,
    "state": None,
    "postal_code": None,
    "phone": None,
    "locations": [],  # other practice locations: {street, city, state, postal_code, phone}
    "clinic_source_id": None,  # the directory record matched (nppes_match only)
    "match_method": None,  # name_address | name_phone | name_city | name_state (nppes_match only)
    "match_score": None,  # 0..1
    "sources": [],
    "retrieved_at": None,
}
# plan_net, marketplace_providers, medicare_billers: one piece of network evidence, one record per
# (NPI, location, network or plan).
NETWORK_FIELDS = {
    "npi": None,
    "insurer_id": None,  # id in data/curated/insurers.yml
    "network": None,  # the network or plan name as the payer gives it
    "plan_ids": [],  # plan identifiers (HIOS plan ids, InsurancePlan ids)
    "evidence": None,  # marketplace_directory | payer_directory | medicare_claims
    "name": None,  # the provider as the payer names it
    "street": None,
    "city": None,
    "state": None,
    "postal_code": None,
    "phone": None,
    "detail": {},  # codes, counts, tier, years, accepting new patients ... (kind-specific)
    "source_url": None,  # the response the fact was read from
    "sources": [],
    "retrieved_at": None,
}
ITEM_FIELDS = {
    CLINIC: CLINIC_FIELDS,
    SOURCE_CHECK: SOURCE_CHECK_FIELDS,
    BILL: BILL_FIELDS,
    POLICY_PAGE: POLICY_PAGE_FIELDS,
    NPI: NPI_FIELDS,
    NETWORK: NETWORK_FIELDS,
}


def item_kind(spidercls):
    """The kind of record a spider yields."""
    return getattr(spidercls, "item_kind", CLINIC)


def new_record(kind, **values):
    """A complete record of a non-clinic kind: every key of the kind, in order, the given
    values, the rest empty; the time stamp (checked_at / retrieved_at) is now unless given."""
    fields = ITEM_FIELDS[kind]
    unknown = set(values) - set(fields)
    if unknown:
        raise KeyError(f"not {kind} record keys: {sorted(unknown)}")
    record = {key: type(empty)(empty) if isinstance(empty, (list, dict)) else empty for key, empty in fields.items()}
    record.update(values)
    stamp = "checked_at" if "checked_at" in fields else "retrieved_at"
    record[stamp] = record[stamp] or utc_now()
    return record
