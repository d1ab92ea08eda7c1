"""How sure a match between a directory clinic and an NPPES record is, shared by the nppes_match
spider (API answers) and the build (the NPPES bulk feed).

A match needs the same state. The name counts for half the score (the best similarity between the
clinic's name and any of the record's names, after dropping words such as LLC and PLLC); the
other half comes from the strongest place evidence: the same street address and ZIP (0.5), the
same phone (0.45), the same city (0.25), the state alone (0). ``STRONG`` is the score from which
the build joins payer evidence for that NPI to the clinic; a weaker match is kept in
``clinic_npis`` for a person to confirm, and never merges anything by itself; under ``MIN_SCORE``
a candidate is not kept.
"""

import re
from difflib import SequenceMatcher

from kad import normalise

STRONG = 0.8
MIN_SCORE = 0.4  # under this a candidate is not kept at all
PLACE_SCORES = {"address": 0.5, "phone": 0.45, "city": 0.25, "state": 0.0}
_LEGAL_WORDS = re.compile(r"\b(llc|pllc|pc|pa|inc|ltd|lp|llp|corp|corporation|company|co|the|of|and|dba)\b")


def plain_name(name):
    words = re.sub(r"[^a-z0-9 ]+", " ", (name or "").lower().replace("&", " and "))
    return " ".join(_LEGAL_WORDS.sub(" ", words).split())


def name_similarity(name, others):
    mine = plain_name(name)
    return max((SequenceMatcher(None, mine, plain_name(o)).ratio() for o in others if o), default=0.0)


def _phone(value):
    try:
        return normalise.phone(value)
    except ValueError:
        return None


def _postal(value):
    try:
        return normalise.postal_code(value)
    except ValueError:
        return None


def place_match(clinic, record):
    """The strongest place evidence shared by a clinic and an NPI record (any of its locations)."""
    places = [record, *(record.get("locations") or [])]
    key = normalise.address_key(clinic.get("street"), clinic.get("postal_code"))
    if key and any(normalise.address_key(p.get("street"), _postal(p.get("postal_code"))) == key for p in places):
        return "address"
    phone = _phone(clinic.get("phone"))
    if phone and any(_phone(p.get("phone")) == phone for p in places):
        return "phone"
    city = (clinic.get("city") or "").strip().lower()
    if city and any((p.get("city") or "").strip().lower() == city for p in places):
        return "city"
    return "state"


def score(clinic, record):
    """(match_method, match_score) of a clinic and an NPI record in the same state, or None."""
    if not clinic.get("state") or (record.get("state") or "").upper() != clinic["state"]:
        return None
    place = place_match(clinic, record)
    similarity = name_similarity(clinic.get("name"), [record.get("name"), *(record.get("other_names") or [])])
    return f"name_{place}", round(0.5 * similarity + PLACE_SCORES[place], 2)
