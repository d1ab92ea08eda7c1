"""The clinic page (/clinic/<source>/<slug>): every fact with its sources and dates, the
disagreements between sources, and what a chosen insurer's policy says about its treatments."""

from . import words
from .cards import clinic_cards, map_points
from .common import SELF_PAY, Links, NotFound, arg, database, fetch, source_links, vocabularies
from .network import clinic_network
from .policies import policy_entry, policy_rows
from .rates import clinic_rates


CLINIC_FLAGS = (("accepts_medicare", "Takes Medicare"), ("accepts_medicaid", "Takes Medicaid"),
                ("accepts_tricare", "Takes TRICARE"), ("va_community_care", "Sees veterans through VA Community Care"),
                ("spravato_rems_certified", "Certified Spravato (REMS) treatment center"))


async def clinic(datasette, clinic_id, args):
    db = database(datasette)
    links = Links(datasette, db)
    rows = await fetch(db, "select * from clinics where id = :id", {"id": clinic_id})
    if not rows:
        raise NotFound(f"No clinic with the id {words.quoted(clinic_id)}.")
    row = rows[0]
    vocab = await vocabularies(db)
    insurer = arg(args, "insurer")
    insurer_row = next((i for i in vocab["insurers"] if i["id"] == insurer), None)
    if insurer == SELF_PAY:
        insurer_row = None
    elif insurer_row is None:
        insurer = ""
    card = (await clinic_cards(links, db, [clinic_id], None, insurer))[0]
    conditions = {c["id"]: c["name"] for c in vocab["conditions"]}
    source_rows = {s["url"]: s for s in await fetch(
        db, "select * from sources where url in (select value from json_each(:urls))", {"urls": row.get("sources") or "[]"})}
    sources = []
    for url in words.json_list(row.get("sources")):
        meta = source_rows.get(url, {})
        sources.append({"url": url, "link": words.safe_url(url), "kind": meta.get("kind"),
                        "fetched_by": meta.get("fetched_by"), "retrieved_at": meta.get("retrieved_at"),
                        "retrieved_text": words.nice_date(meta.get("retrieved_at")),
                        "http_status": meta.get("http_status")})
    conflicts = []
    for conflict in words.json_list(row.get("conflicts")):
        if not isinstance(conflict, dict):
            continue
        values = []
        for value in conflict.get("values") or []:
            shown = value.get("value")
            if conflict.get("field", "").startswith("price") and words.number(shown) is not None:
                shown = words.money(shown)
            values.append({"value": "" if shown is None else str(shown), "sources": source_links(value.get("sources"))})
        conflicts.append({"field": conflict.get("field"), "label": str(conflict.get("field", "")).replace("_", " "),
                          "values": values})
    policy = None
    if insurer_row:
        policy = await _clinic_policies(db, links, insurer_row, row, card)
    state_name = next((st["name"] for st in vocab["states"] if st["code"] == row["state"]), row["state"])
    place = ", ".join(p for p in (row.get("city"), row.get("state")) if p)
    page = {
        "page": "clinic",
        "title": row["name"],
        "description": (f"{row['name']}{' in ' + place if place else ''}: "
                        f"{words.listing(t['name'] for t in card['treatments']) or 'treatments not stated'}. "
                        + (f"Insurers it lists: {words.listing(i['name'] for i in card['insurers'])}. " if card["insurers"] else "")
                        + "Address, phone, stated prices and the source of every fact."),
        "state_name": state_name,
        "clinic": card,
        "operator": row.get("operator"),
        "npi": row.get("npi"),
        "npi_link": f"https://npiregistry.cms.hhs.gov/provider-view/{row['npi']}" if (row.get("npi") or "").isdigit() else None,
        "conditions": [{"id": c, "name": conditions.get(c, c)} for c in words.json_list(row.get("conditions"))],
        "flags": [{"column": col, "label": label, "value": row.get(col), "text": words.FLAG_WORDS.get(row.get(col), "Not stated")}
                  for col, label in CLINIC_FLAGS],
        "financing": [str(f) for f in words.json_list(row.get("financing"))],
        "clinician_types": [str(c).replace("_", " ") for c in words.json_list(row.get("clinician_types"))],
        "notes": row.get("notes"),
        "conflicts": conflicts,
        "sources": sources,
        "dates": {k: {"value": row.get(k), "text": words.nice_date(row.get(k))}
                  for k in ("retrieved_at", "first_seen", "last_seen")},
        "insurer": {"id": insurer, "name": insurer_row["name"] if insurer_row else
                    ("paying yourself" if insurer == SELF_PAY else "")},
        "policy": policy,
        "negotiated_rates": await clinic_rates(db, clinic_id, {i["id"]: i["name"] for i in vocab["insurers"]}),
        "network": await clinic_network(db, clinic_id, row["state"]),
        "choices": {"insurers": vocab["insurers"]},
        "map": map_points([card]),
        "links": {},
    }
    page["links"]["page"] = links.clinic(clinic_id, insurer=insurer)
    page["links"]["canonical"] = links.clinic(clinic_id)
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["state"] = links.path(f"/state/{row['state']}")
    page["links"]["checklist"] = links.path("/checklist", state=row["state"],
                                            insurer=insurer if insurer_row else None)
    page["links"]["datasette_row"] = links.row("clinics", clinic_id)
    page["links"]["datasette_json"] = links.row("clinics", clinic_id, fmt="json")
    page["links"]["datasette_evidence_json"] = links.table("network_evidence", fmt="json", clinic_id=clinic_id,
                                                           _shape="objects")
    page["links"]["datasette_insurers_json"] = links.table("clinic_insurers", fmt="json", clinic_id=clinic_id,
                                                           _shape="objects")
    page["links"]["datasette_rates_json"] = links.table("negotiated_rates", fmt="json", clinic_id=clinic_id,
                                                        _shape="objects")
    page["links"]["data_home"] = links.data_home()
    return page


async def _clinic_policies(db, links, insurer_row, row, card):
    treatments = [t["id"] for t in card["treatments"]]
    names = {"conditions": {c["id"]: c["name"] for c in await fetch(db, "select id, name from conditions")},
             "treatments": {t["id"]: t["name"] for t in card["treatments"]}}
    rows = await policy_rows(db, insurer_row["id"], treatments, row["state"])
    listed = next((i for i in card["insurers"] if i["id"] == insurer_row["id"]), None)
    return {
        "insurer": insurer_row["name"],
        "clinic_lists_insurer": listed,
        "rows": [policy_entry(r, names["conditions"], names["treatments"]) for r in rows],
        "treatments_without_policy": [t["name"] for t in card["treatments"]
                                      if not any(r["treatment"] == t["id"] for r in rows)],
        "datasette_json": links.table("insurer_policies", fmt="json", insurer_id=insurer_row["id"], _shape="objects"),
    }
