"""Clinic cards: one clinic as search results, state lists and the clinic page show it, and the
points of the map."""

import json

from . import words
from .common import SELF_PAY, fetch


PRICE_FIELDS = (("price_initial_usd", "First infusion"), ("price_subsequent_usd", "Each later infusion"),
                ("price_series_usd", "Whole series"), ("price_consultation_usd", "Consultation"))


def prices_of(row):
    prices = []
    for column, label in PRICE_FIELDS:
        value = words.number(row.get(column))
        if value is None:
            continue
        if column == "price_series_usd" and words.number(row.get("series_count")):
            label = f"Series of {int(row['series_count'])} sessions"
        text = words.money(value) + (" (free)" if value == 0 else "")
        prices.append({"column": column, "label": label, "usd": value, "text": text})
    return prices


async def clinic_cards(links, db, ids, distances=None, insurer=None):
    """Cards for the given clinic ids, in the given order."""
    if not ids:
        return []
    id_list = json.dumps(list(ids))
    rows = {r["id"]: r for r in await fetch(db, "select * from clinics where id in (select value from json_each(:ids))",
                                             {"ids": id_list})}
    insurer_rows = await fetch(db, """
        select clinic_insurers.clinic_id, clinic_insurers.insurer_id, clinic_insurers.evidence,
               clinic_insurers.network_status, clinic_insurers.source_url, clinic_insurers.retrieved_at, insurers.name
        from clinic_insurers left join insurers on insurers.id = clinic_insurers.insurer_id
        where clinic_insurers.clinic_id in (select value from json_each(:ids))
        order by insurers.name collate nocase""", {"ids": id_list})
    treatment_names = {t["id"]: t["name"] for t in await fetch(db, "select id, name from treatments")}
    by_clinic = {}
    for link in insurer_rows:
        by_clinic.setdefault(link["clinic_id"], []).append({
            "id": link["insurer_id"], "name": link["name"] or link["insurer_id"],
            "evidence": link["evidence"], "evidence_text": words.EVIDENCE_WORDS.get(link["evidence"], link["evidence"]),
            "status": link["network_status"], "status_text": words.STATUS_WORDS.get(link["network_status"]),
            "source_url": link["source_url"], "source_link": words.safe_url(link["source_url"]),
            "retrieved_at": link["retrieved_at"], "retrieved_text": words.nice_date(link["retrieved_at"]),
        })
    for entries in by_clinic.values():
        for entry in entries:
            entry["matched"] = bool(insurer) and entry["id"] == insurer
    cards = []
    for clinic_id in ids:
        row = rows.get(clinic_id)
        if row is None:
            continue
        cards.append(_card(links, row, by_clinic.get(clinic_id, []), treatment_names,
                           (distances or {}).get(clinic_id), insurer))
    return cards


def _card(links, row, insurers, treatment_names, distance, insurer):
    conflicts = words.json_list(row.get("conflicts"))
    precision = row.get("geocode_precision") or None
    treatments = words.json_list(row.get("treatments"))
    age = words.months_old(row.get("retrieved_at"))
    lat, lon = words.number(row.get("latitude")), words.number(row.get("longitude"))
    address = ", ".join(p for p in (row.get("street"), row.get("city"),
                                    " ".join(p for p in (row.get("state"), row.get("postal_code")) if p)) if p)
    return {
        "id": row["id"],
        "name": row["name"],
        "url": links.clinic(row["id"], insurer=insurer if insurer and insurer != SELF_PAY else None),
        "street": row.get("street"), "city": row.get("city"), "state": row.get("state"),
        "postal_code": row.get("postal_code"), "address": address,
        "phone": row.get("phone"),
        "phone_tel": ("+1" + "".join(ch for ch in row.get("phone") or "" if ch.isdigit())[-10:])
        if len("".join(ch for ch in row.get("phone") or "" if ch.isdigit())) >= 10 else None,
        "website": row.get("website"), "website_link": words.safe_url(row.get("website")),
        "distance_miles": words.number(distance),
        "treatments": [{"id": t, "name": treatment_names.get(t, t)} for t in treatments],
        "offers_spravato": "esketamine_spravato" in treatments,
        "insurers": insurers,
        "insurer_groups": _insurer_groups(insurers),
        "unmapped_insurers": words.json_list(row.get("unmapped_insurers")),
        "prices": prices_of(row),
        "ketamine_insurance": {"value": row.get("ketamine_insurance"),
                               "text": words.INSURANCE_WORDS.get(row.get("ketamine_insurance"), "Not stated")},
        "spravato_insurance": {"value": row.get("spravato_insurance"),
                               "text": words.INSURANCE_WORDS.get(row.get("spravato_insurance"), "Not stated")},
        "retrieved_at": row.get("retrieved_at"), "retrieved_text": words.nice_date(row.get("retrieved_at")),
        "stale": age is not None and age > 12,
        "needs_review": bool(row.get("needs_review")),
        "conflict_fields": sorted({c.get("field") for c in conflicts if isinstance(c, dict)}),
        "review_note": words.review_note(row.get("needs_review"), [c for c in conflicts if isinstance(c, dict)]),
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))],
        "reported_closed": bool(row.get("reported_closed")),
        "facility_kind": row.get("facility_kind") or "clinic",
        "facility_label": words.FACILITY_WORDS.get(row.get("facility_kind")),
        "geocode_precision": precision,
        "approximate": precision in ("zip_centroid", "city_centroid"),
        "location_note": words.PRECISION_WORDS.get(precision, words.PRECISION_WORDS[None]),
        "latitude": lat, "longitude": lon,
        "data_url": links.row("clinics", row["id"], fmt="json"),
    }


def _insurer_groups(insurers):
    """The listed insurers grouped by where the listing came from, for a compact card."""
    groups = {}
    for insurer in insurers:
        group = groups.setdefault(insurer["evidence"], {"evidence": insurer["evidence"],
                                                        "label": insurer["evidence_text"][:1].upper() + insurer["evidence_text"][1:],
                                                        "insurers": []})
        group["insurers"].append({"name": insurer["name"], "matched": insurer.get("matched", False),
                                  "status_text": insurer.get("status_text")})
    return list(groups.values())


def map_points(cards, origin=None):
    points = [{"name": c["name"], "url": c["url"], "lat": c["latitude"], "lon": c["longitude"],
               "distance_miles": c["distance_miles"], "approximate": c["approximate"]}
              for c in cards if c["latitude"] is not None and c["longitude"] is not None]
    if not points:
        return None
    return {"points": points, "origin": origin}
