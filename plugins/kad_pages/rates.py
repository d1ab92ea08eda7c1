"""Negotiated rates as the pages show them: what insurers have agreed to pay one clinic, per
billing code, and the median and range in a state. These are what the insurer pays the
clinic (from the price-transparency files insurers publish), never what the patient pays."""

import json
import statistics

from . import words
from .common import fetch

CODE_NAMES = {
    "G2082": "Spravato visit, up to 56 mg (G2082)",
    "G2083": "Spravato visit, over 56 mg (G2083)",
    "J0013": "Esketamine, per mg (J0013)",
    "S0013": "Esketamine, per mg, before 2026 (S0013)",
    "J3490": "Unclassified drug, how IV ketamine is usually billed (J3490)",
    "96365": "IV infusion, first hour (96365; any drug, not only ketamine)",
    "96366": "IV infusion, each added hour (96366; any drug, not only ketamine)",
}
# Dollar amounts; a percentage of billed charges and a per-diem rate are not comparable prices.
DOLLAR_TYPES = ("negotiated", "fee schedule", "derived")


def rate_text(rate, negotiated_type):
    if negotiated_type == "percentage":
        return f"{words.number(rate):g}% of billed charges"
    text = words.money(rate)
    return f"{text} a day" if negotiated_type == "per diem" else text


async def clinic_rates(db, clinic_id, insurer_names):
    """Per code, the distinct prices insurers published for this clinic's NPI."""
    rows = await fetch(db, "select billing_code, insurer_id, reporting_entity_name, negotiated_type, negotiated_rate, "
                           "billing_class, modifiers, expiration_date, max(last_updated_on) as last_updated_on, "
                           "min(file_url) as file_url, count(*) as rows from negotiated_rates where clinic_id = :id "
                           "group by billing_code, insurer_id, reporting_entity_name, negotiated_type, negotiated_rate, "
                           "billing_class, modifiers, expiration_date order by billing_code, insurer_id, negotiated_rate",
                       {"id": clinic_id})
    codes = {}
    for row in rows:
        modifiers = words.json_list(row["modifiers"])
        codes.setdefault(row["billing_code"], []).append({
            "payer": insurer_names.get(row["insurer_id"]) or row["reporting_entity_name"] or "Insurer not named",
            "insurer_id": row["insurer_id"], "rate": row["negotiated_rate"], "negotiated_type": row["negotiated_type"],
            "rate_text": rate_text(row["negotiated_rate"], row["negotiated_type"]),
            "billing_class": row["billing_class"], "modifiers": [str(m) for m in modifiers],
            "expiration_date": row["expiration_date"], "date": row["last_updated_on"],
            "date_text": words.nice_date(row["last_updated_on"]),
            "source": row["file_url"], "link": words.safe_url(row["file_url"])})
    return [{"code": code, "name": CODE_NAMES.get(code, code), "rates": entries} for code, entries in codes.items()]


async def state_rate_stats(db, state, insurer_id=None):
    """Per code, the median and range of dollar rates insurers published for clinics in the
    state (one value per clinic, insurer and price), all insurers and, if given, one insurer."""
    rows = await fetch(db, "select billing_code, insurer_id, clinic_id, negotiated_rate, last_updated_on "
                           "from negotiated_rates where state = :state and negotiated_type in "
                           f"({', '.join(json.dumps(t) for t in DOLLAR_TYPES)}) "
                           "group by billing_code, insurer_id, clinic_id, negotiated_rate", {"state": state})
    stats = []
    for code in sorted({r["billing_code"] for r in rows}, key=lambda c: list(CODE_NAMES).index(c) if c in CODE_NAMES else 99):
        mine = [r for r in rows if r["billing_code"] == code]
        entry = {"code": code, "name": CODE_NAMES.get(code, code), "all": _summary(mine),
                 "insurer": _summary([r for r in mine if r["insurer_id"] == insurer_id]) if insurer_id else None}
        stats.append(entry)
    return stats


def _summary(rows):
    values = sorted(r["negotiated_rate"] for r in rows)
    if not values:
        return {"count": 0}
    dates = sorted(r["last_updated_on"] for r in rows if r["last_updated_on"])
    return {"count": len(values), "clinics": len({r["clinic_id"] for r in rows}),
            "insurers": len({r["insurer_id"] for r in rows}),
            "median_text": words.money(round(statistics.median(values), 2)),
            "min_text": words.money(values[0]), "max_text": words.money(values[-1]),
            "dates": {"oldest": words.nice_date(dates[0]), "newest": words.nice_date(dates[-1])} if dates else None}
