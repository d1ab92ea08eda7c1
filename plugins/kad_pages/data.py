"""What each patient page shows, read from the database as JSON-ready dicts.

The HTML templates render exactly these dicts, and `?_format=json` (or the `.json` twin of each
route) returns them unchanged, so what a patient sees a researcher can query. Every dict has
`links` to the Datasette JSON and SQL behind it.

Search reuses the `clinics_near_zip` canned query from metadata.yml (bounding box, then haversine,
NULL coordinates skipped) rather than a copy of its SQL.
"""

import json
import statistics
from urllib.parse import urlencode

from datasette.utils import tilde_decode, tilde_encode

from . import words

DATABASE = "ketamine"
NEAR_QUERY = "clinics_near_zip"
DEFAULT_MILES = 25
RADII = (10, 25, 50, 100, 250)
MAX_MILES = 500
WIDE_MILES = 3000  # "nearest clinics outside the radius" looks this far (the whole country)
SELF_PAY = "self"
TREATMENT_CHOICES = (("", "Any treatment"), ("iv_ketamine", "IV ketamine"),
                     ("esketamine_spravato", "Spravato (esketamine)"))
CHECKLIST_TREATMENTS = ("iv_ketamine", "esketamine_spravato")
APPEAL_TOPICS = ("internal_appeal_deadline_days", "external_review_process",
                 "external_review_deadline_days", "expedited_review_hours")
# Broader conditions whose policy rows also speak to a narrower one (the narrower is a kind of the
# broader by the vocabulary's own definitions): shown beside "no policy for your condition".
BROADER_CONDITIONS = {"treatment_resistant_depression": ("depression",), "postpartum_depression": ("depression",),
                      "crps": ("chronic_pain", "neuropathic_pain"), "fibromyalgia": ("chronic_pain",),
                      "neuropathic_pain": ("chronic_pain",)}
PRICE_COLUMNS = (("price_initial_usd", "A first infusion"), ("price_series_usd", "A whole series"))

# The canned query's insurer and condition tests, plus treatment, for lists that are not "near".
FILTERS_SQL = """
  and (:insurer = '' or exists (
    select 1 from clinic_insurers join insurers on insurers.id = clinic_insurers.insurer_id
    where clinic_insurers.clinic_id = clinics.id and :insurer in (insurers.id, insurers.name)))
  and (:condition = '' or exists (
    select 1 from clinic_conditions
    where clinic_conditions.clinic_id = clinics.id and clinic_conditions.condition_id = :condition))
  and (:treatment = '' or exists (
    select 1 from clinic_treatments
    where clinic_treatments.clinic_id = clinics.id and clinic_treatments.treatment_id = :treatment))
"""


class NotFound(Exception):
    """The page asked for does not exist (unknown clinic or state)."""


class Misconfigured(Exception):
    """The server lacks something the pages need (e.g. the canned query)."""


# -- plumbing ----------------------------------------------------------------------------------

def database(datasette):
    if DATABASE in datasette.databases:
        return datasette.databases[DATABASE]
    for name, db in datasette.databases.items():
        if not name.startswith("_"):
            return db
    raise Misconfigured("no database is attached")


async def fetch(db, sql, params=None):
    results = await db.execute(sql, params or {})
    return [dict(row) for row in results.rows]


class Links:
    """Addresses of the patient pages and of the Datasette views behind them."""

    def __init__(self, datasette, db):
        self.ds = datasette
        self.db = db.name

    def path(self, path, **params):
        params = {k: v for k, v in params.items() if v not in (None, "")}
        url = str(self.ds.urls.path(path))
        return url + ("?" + urlencode(params) if params else "")

    def clinic(self, clinic_id, **params):
        prefix, sep, rest = clinic_id.partition(":")
        if not sep:
            prefix, rest = "-", clinic_id
        return self.path(f"/clinic/{tilde_encode(prefix)}/{tilde_encode(rest)}", **params)

    def json(self, url):
        """The .json twin of one of our page addresses."""
        path, sep, query = url.partition("?")
        if path.rstrip("/") == str(self.ds.urls.path("")).rstrip("/"):
            path = str(self.ds.urls.path("/search"))
        return path + ".json" + sep + query

    def table(self, table, fmt=None, **params):
        params = {k: v for k, v in params.items() if v not in (None, "")}
        url = str(self.ds.urls.table(self.db, table, format=fmt))
        return url + ("?" + urlencode(params) if params else "")

    def query(self, name, fmt=None, **params):
        url = str(self.ds.urls.query(self.db, name, format=fmt))
        return url + ("?" + urlencode(params) if params else "")

    def row(self, table, pk, fmt=None):
        return str(self.ds.urls.row(self.db, table, tilde_encode(pk), format=fmt))

    def sql(self, sql, fmt=None, **params):
        url = str(self.ds.urls.database(self.db, format=fmt))
        return url + "?" + urlencode({"sql": sql, **params})

    def data_home(self):
        return str(self.ds.urls.database(self.db))


def clinic_id_from_path(prefix, rest):
    prefix, rest = tilde_decode(prefix), tilde_decode(rest)
    return rest if prefix == "-" else f"{prefix}:{rest}"


async def vocabularies(db):
    insurers = await fetch(db, "select id, name, kind from insurers order by name collate nocase")
    conditions = await fetch(db, "select id, name from conditions order by name collate nocase")
    treatments = await fetch(db, "select id, name from treatments")
    states = await fetch(db, "select code, name, clinic_count from states order by name")
    return {"insurers": insurers, "conditions": conditions,
            "treatments": {t["id"]: t["name"] for t in treatments}, "states": states}


def _pick(value, allowed):
    return value if value in allowed else None


def _sources(urls):
    return [{"url": str(url), "link": words.safe_url(url)} for url in words.json_list(urls)]


# -- clinic cards (search results, state lists, the clinic page) ------------------------------

PRICE_FIELDS = (("price_initial_usd", "First infusion"), ("price_subsequent_usd", "Each later infusion"),
                ("price_series_usd", "Whole series"), ("price_consultation_usd", "Consultation"))


def _prices(row):
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
               clinic_insurers.source_url, clinic_insurers.retrieved_at, insurers.name
        from clinic_insurers left join insurers on insurers.id = clinic_insurers.insurer_id
        where clinic_insurers.clinic_id in (select value from json_each(:ids))
        order by insurers.name collate nocase""", {"ids": id_list})
    treatment_names = {t["id"]: t["name"] for t in await fetch(db, "select id, name from treatments")}
    by_clinic = {}
    for link in insurer_rows:
        by_clinic.setdefault(link["clinic_id"], []).append({
            "id": link["insurer_id"], "name": link["name"] or link["insurer_id"],
            "evidence": link["evidence"], "evidence_text": words.EVIDENCE_WORDS.get(link["evidence"], link["evidence"]),
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
        "prices": _prices(row),
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
        group["insurers"].append({"name": insurer["name"], "matched": insurer.get("matched", False)})
    return list(groups.values())


def _map_points(cards, origin=None):
    points = [{"name": c["name"], "url": c["url"], "lat": c["latitude"], "lon": c["longitude"],
               "distance_miles": c["distance_miles"], "approximate": c["approximate"]}
              for c in cards if c["latitude"] is not None and c["longitude"] is not None]
    if not points:
        return None
    return {"points": points, "origin": origin}


# -- search ------------------------------------------------------------------------------------

def _miles(value):
    try:
        miles = float(value)
    except (TypeError, ValueError):
        return DEFAULT_MILES, value not in (None, "")
    if not 1 <= miles <= MAX_MILES:
        return min(max(miles, 1), MAX_MILES), True
    return (int(miles) if miles.is_integer() else miles), False


async def near_sql(datasette, db):
    query = await datasette.get_canned_query(db.name, NEAR_QUERY, None)
    if not query or not query.get("sql"):
        raise Misconfigured(f"the canned query {NEAR_QUERY} is missing: start Datasette with --metadata metadata.yml")
    return query["sql"]


async def search(datasette, args):
    db = database(datasette)
    links = Links(datasette, db)
    vocab = await vocabularies(db)
    insurer_ids = {i["id"] for i in vocab["insurers"]}
    insurer_by_name = {i["name"].lower(): i["id"] for i in vocab["insurers"]}
    state_codes = {s["code"] for s in vocab["states"]}
    errors, notes = [], []

    raw = {k: (args.get(k) or "").strip() for k in ("zip", "city", "state", "miles", "insurer", "condition", "treatment")}
    miles, miles_adjusted = _miles(raw["miles"] or DEFAULT_MILES)
    if miles_adjusted:
        notes.append(f"Distance set to {miles} miles (we search between 1 and {MAX_MILES}).")
    insurer = raw["insurer"]
    if insurer and insurer != SELF_PAY and insurer not in insurer_ids:
        insurer = insurer_by_name.get(insurer.lower(), "")
        if not insurer:
            errors.append(f"We do not know the insurer \u201c{raw['insurer']}\u201d, so we searched every insurer.")
    condition = _pick(raw["condition"], {c["id"] for c in vocab["conditions"]}) or ""
    if raw["condition"] and not condition:
        errors.append(f"We do not know the condition \u201c{raw['condition']}\u201d, so we searched every condition.")
    treatment = _pick(raw["treatment"], {t for t, _ in TREATMENT_CHOICES} | set(vocab["treatments"])) or ""
    state = raw["state"].upper()
    if state and state not in state_codes:
        errors.append(f"\u201c{raw['state']}\u201d is not a US state code.")
        state = ""
    zip_code = raw["zip"]
    if zip_code and not (len(zip_code) == 5 and zip_code.isdigit()):
        errors.append(f"\u201c{zip_code}\u201d is not a 5-digit ZIP code.")
        zip_code = ""

    query = {"zip": zip_code, "city": raw["city"], "state": state, "miles": miles, "insurer": insurer,
             "condition": condition, "treatment": treatment}
    names = {
        "insurer": "paying yourself" if insurer == SELF_PAY else
        next((i["name"] for i in vocab["insurers"] if i["id"] == insurer), ""),
        "condition": next((c["name"] for c in vocab["conditions"] if c["id"] == condition), ""),
        "treatment": dict(TREATMENT_CHOICES).get(treatment) or vocab["treatments"].get(treatment, ""),
        "state": next((s["name"] for s in vocab["states"] if s["code"] == state), ""),
    }
    page = {
        "page": "search",
        "title": "Find ketamine and Spravato care",
        "query": query, "names": names,
        "searched": False, "mode": None, "origin": None,
        "errors": errors, "notes": notes,
        "results": [], "results_heading": None, "unmapped": [], "unmapped_state": None,
        "widen": None, "map": None,
        "choices": {"insurers": vocab["insurers"], "conditions": vocab["conditions"],
                    "treatments": [{"id": t, "name": n} for t, n in TREATMENT_CHOICES],
                    "radii": sorted(set(RADII) | {miles}), "states": vocab["states"]},
        "browse_states": [{**s, "url": links.path(f"/state/{s['code']}")} for s in vocab["states"] if s["clinic_count"]],
        "filter_summary": [f"{label}: {names[key]}" for key, label in (("insurer", "insurance"), ("condition", "condition"),
                                                                        ("treatment", "treatment"))
                           if names[key] and query[key]],
        "links": {},
    }
    filters = {"insurer": "" if insurer == SELF_PAY else insurer, "condition": condition, "treatment": treatment}

    def search_url(**changes):
        params = {**query, **changes}
        if params.get("zip"):
            params["city"] = params["state"] = ""
        return links.path("/", **{k: v for k, v in params.items() if not (k == "miles" and v == DEFAULT_MILES)})

    page["links"]["page"] = search_url()
    page["links"]["json"] = links.json(search_url())
    page["links"]["data_home"] = links.data_home()

    origin = None
    if zip_code:
        found = await fetch(db, "select zip, city, state, latitude, longitude from zip_codes where zip = :zip",
                            {"zip": zip_code})
        if found and found[0]["latitude"] is not None:
            origin = {**found[0], "kind": "zip"}
        else:
            errors.append(f"We could not find ZIP code {zip_code}. Check it, or search by city and state.")
    elif raw["zip"]:
        pass  # an invalid ZIP code: the error says so, and the form is shown again
    elif raw["city"]:
        if not state:
            errors.append("Choose the state as well as the city.")
        else:
            origin = await _city_origin(db, raw["city"], state)
            if origin is None:
                notes.append(f"We could not find {raw['city']}, {state} in our ZIP code list, so here is every "
                             f"clinic we know in {names['state']}.")
    if origin:
        page["searched"], page["mode"] = True, "near"
        place = f"{origin['city']}, {origin['state']}" if origin.get("city") else origin["state"]
        page["origin"] = {"zip": origin["zip"], "city": origin.get("city"), "state": origin["state"],
                          "latitude": origin["latitude"], "longitude": origin["longitude"], "kind": origin["kind"],
                          "label": f"ZIP {origin['zip']} ({place})" if origin["kind"] == "zip" else
                          f"{place} (measured from the center of ZIP {origin['zip']})"}
        await _search_near(datasette, db, links, page, origin, miles, filters, search_url)
    elif state and not raw["zip"]:
        page["searched"], page["mode"] = True, "state"
        await _search_state(db, links, page, state, filters, search_url)
    return page


def _count(count):
    return "No clinic" if count == 0 else f"{count} clinic{'s' if count != 1 else ''}"


async def _city_origin(db, city, state):
    rows = await fetch(db, "select zip, city, state, latitude, longitude from zip_codes "
                           "where city = :city collate nocase and state = :state and latitude is not null",
                       {"city": city, "state": state})
    if not rows:
        return None
    lat = sum(r["latitude"] for r in rows) / len(rows)
    lon = sum(r["longitude"] for r in rows) / len(rows)
    center = min(rows, key=lambda r: (r["latitude"] - lat) ** 2 + (r["longitude"] - lon) ** 2)
    return {**center, "kind": "city"}


async def _near(datasette, db, zip_code, miles, filters):
    sql = await near_sql(datasette, db)
    return await fetch(db, sql, {"zip": zip_code, "miles": str(miles), **filters})


async def _search_near(datasette, db, links, page, origin, miles, filters, search_url):
    insurer = page["query"]["insurer"]
    near = await _near(datasette, db, origin["zip"], miles, filters)
    distances = {r["id"]: r["distance_miles"] for r in near}
    page["results"] = await clinic_cards(links, db, [r["id"] for r in near], distances, insurer)
    count = len(page["results"])
    page["results_heading"] = (f"{_count(count)} within {miles} miles of {page['origin']['label']}")
    params = {"zip": origin["zip"], "miles": str(miles), **{k: filters[k] for k in ("insurer", "condition")}}
    page["links"]["datasette_query"] = links.query(NEAR_QUERY, **params)
    page["links"]["datasette_json"] = links.query(NEAR_QUERY, fmt="json", _shape="objects", **params)

    origin_point = {"lat": origin["latitude"], "lon": origin["longitude"], "label": page["origin"]["label"]}
    if not page["results"]:
        page["widen"] = await _widen(datasette, db, links, page, origin, miles, filters, search_url)
        page["map"] = _map_points(page["widen"]["nearest"], origin_point)
    else:
        page["map"] = _map_points(page["results"], origin_point)
    await _unmapped(db, links, page, origin["state"], filters)


async def _widen(datasette, db, links, page, origin, miles, filters, search_url):
    """When nothing matches: larger radii that do find clinics, the same search with any insurer
    (condition, treatment), and the nearest matching clinics outside the radius."""
    wide = await _near(datasette, db, origin["zip"], WIDE_MILES, filters)
    radii = []
    seen = 0
    for radius in RADII:
        if radius <= miles:
            continue
        within = sum(1 for r in wide if r["distance_miles"] <= radius)
        if within > seen:
            radii.append({"miles": radius, "count": within, "url": search_url(miles=radius)})
            seen = within
        if len(radii) == 2:
            break
    relax = []
    for key, label, empty in (("insurer", "any insurer", ""), ("condition", "any condition", ""),
                              ("treatment", "any treatment", "")):
        if filters.get(key):
            found = await _near(datasette, db, origin["zip"], miles, {**filters, key: empty})
            relax.append({"filter": key, "label": label, "count": len(found), "url": search_url(**{key: empty})})
    nearest_rows = wide[:5]
    nearest = await clinic_cards(links, db, [r["id"] for r in nearest_rows],
                                 {r["id"]: r["distance_miles"] for r in nearest_rows}, page["query"]["insurer"])
    return {"radii": radii, "relax": relax, "nearest": nearest,
            "state_page": links.path(f"/state/{origin['state']}")}


async def _filtered_state_ids(db, state, filters, mapped):
    where = "latitude is not null and longitude is not null" if mapped else "(latitude is null or longitude is null)"
    rows = await fetch(db, f"select id from clinics where state = :state and {where} {FILTERS_SQL} "
                           "order by name collate nocase", {"state": state, **filters})
    return [r["id"] for r in rows]


async def _unmapped(db, links, page, state, filters):
    ids = await _filtered_state_ids(db, state, filters, mapped=False)
    page["unmapped"] = await clinic_cards(links, db, ids, None, page["query"]["insurer"])
    name = await fetch(db, "select name from states where code = :code", {"code": state})
    page["unmapped_state"] = {"code": state, "name": name[0]["name"] if name else state,
                              "url": links.path(f"/state/{state}")}


async def _search_state(db, links, page, state, filters, search_url):
    ids = await _filtered_state_ids(db, state, filters, mapped=True)
    page["results"] = await clinic_cards(links, db, ids, None, page["query"]["insurer"])
    count = len(page["results"])
    page["results_heading"] = f"{_count(count)} with a mapped location in {page['names']['state']}"
    page["map"] = _map_points(page["results"])
    await _unmapped(db, links, page, state, filters)
    page["links"]["datasette_json"] = links.table("clinics", fmt="json", state=state, _shape="objects")
    page["links"]["datasette_query"] = links.table("clinics", state=state)
    if not page["results"] and not page["unmapped"]:
        relax = []
        for key, label in (("insurer", "any insurer"), ("condition", "any condition"), ("treatment", "any treatment")):
            if filters.get(key):
                ids = (await _filtered_state_ids(db, state, {**filters, key: ""}, True)
                       + await _filtered_state_ids(db, state, {**filters, key: ""}, False))
                relax.append({"filter": key, "label": label, "count": len(ids), "url": search_url(**{key: ""})})
        page["widen"] = {"radii": [], "relax": relax, "nearest": [], "state_page": links.path(f"/state/{state}")}


# -- clinic page -------------------------------------------------------------------------------

CLINIC_FLAGS = (("accepts_medicare", "Takes Medicare"), ("accepts_medicaid", "Takes Medicaid"),
                ("accepts_tricare", "Takes TRICARE"), ("va_community_care", "Sees veterans through VA Community Care"),
                ("spravato_rems_certified", "Certified Spravato (REMS) treatment center"))


async def clinic(datasette, clinic_id, args):
    db = database(datasette)
    links = Links(datasette, db)
    rows = await fetch(db, "select * from clinics where id = :id", {"id": clinic_id})
    if not rows:
        raise NotFound(f"No clinic with the id {clinic_id!r}.")
    row = rows[0]
    vocab = await vocabularies(db)
    insurer = (args.get("insurer") or "").strip()
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
            values.append({"value": "" if shown is None else str(shown), "sources": _sources(value.get("sources"))})
        conflicts.append({"field": conflict.get("field"), "label": str(conflict.get("field", "")).replace("_", " "),
                          "values": values})
    policy = None
    if insurer_row:
        policy = await _clinic_policies(db, links, insurer_row, row, card)
    state_name = next((st["name"] for st in vocab["states"] if st["code"] == row["state"]), row["state"])
    page = {
        "page": "clinic",
        "title": row["name"],
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
        "choices": {"insurers": vocab["insurers"]},
        "map": _map_points([card]),
        "links": {},
    }
    page["links"]["page"] = links.clinic(clinic_id, insurer=insurer)
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["state"] = links.path(f"/state/{row['state']}")
    page["links"]["checklist"] = links.path("/checklist", state=row["state"],
                                            insurer=insurer if insurer_row else None)
    page["links"]["datasette_row"] = links.row("clinics", clinic_id)
    page["links"]["datasette_json"] = links.row("clinics", clinic_id, fmt="json")
    page["links"]["datasette_insurers_json"] = links.table("clinic_insurers", fmt="json", clinic_id=clinic_id,
                                                           _shape="objects")
    page["links"]["data_home"] = links.data_home()
    return page


def _policy_entry(row, conditions, treatments):
    return {
        "id": row["id"], "treatment": row["treatment"], "treatment_name": treatments.get(row["treatment"], row["treatment"]),
        "condition": row["condition"], "condition_name": conditions.get(row["condition"], row["condition"]),
        "market": row["market"], "market_text": words.MARKET_WORDS.get(row["market"], row["market"]),
        "state": row.get("state") or None, "coverage": row["coverage"],
        "coverage_text": words.COVERAGE_WORDS.get(row["coverage"], row["coverage"]),
        "criteria": row.get("criteria"),
        "prior_authorization": row.get("prior_authorization"),
        "prior_authorization_text": {1: "required", 0: "not required"}.get(row.get("prior_authorization"), "not stated"),
        "policy_id": row.get("policy_id"), "policy_title": row.get("policy_title"),
        "effective_date": row.get("effective_date"), "effective_text": words.nice_date(row.get("effective_date")),
        "date_kind": row.get("date_kind"),
        "sources": _sources(row.get("sources")),
        "retrieved_at": row.get("retrieved_at"), "retrieved_text": words.nice_date(row.get("retrieved_at")),
        "verified": bool(row.get("verified")), "needs_review": bool(row.get("needs_review")),
        "note": row.get("note"),
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))],
    }


async def _policy_rows(db, insurer_id, treatments, state):
    if not await db.table_exists("insurer_policies"):
        return []
    return await fetch(db, """
        select * from insurer_policies where insurer_id = :insurer
          and treatment in (select value from json_each(:treatments))
          and (state is null or state = '' or state = :state)
        order by treatment, condition, market, state""",
        {"insurer": insurer_id, "treatments": json.dumps(list(treatments)), "state": state})


async def _clinic_policies(db, links, insurer_row, row, card):
    treatments = [t["id"] for t in card["treatments"]]
    names = {"conditions": {c["id"]: c["name"] for c in await fetch(db, "select id, name from conditions")},
             "treatments": {t["id"]: t["name"] for t in card["treatments"]}}
    rows = await _policy_rows(db, insurer_row["id"], treatments, row["state"])
    listed = next((i for i in card["insurers"] if i["id"] == insurer_row["id"]), None)
    return {
        "insurer": insurer_row["name"],
        "clinic_lists_insurer": listed,
        "rows": [_policy_entry(r, names["conditions"], names["treatments"]) for r in rows],
        "treatments_without_policy": [t["name"] for t in card["treatments"]
                                      if not any(r["treatment"] == t["id"] for r in rows)],
        "datasette_json": links.table("insurer_policies", fmt="json", insurer_id=insurer_row["id"], _shape="objects"),
    }


# -- state page --------------------------------------------------------------------------------

def _law_entry(topic, row, topic_meta):
    meta = topic_meta.get(topic, {})
    value = row.get("value") if row else None
    return {
        "topic": topic, "title": words.topic_title(topic), "question": meta.get("question"),
        "found": row is not None,
        "value": value, "value_text": words.law_value(topic, value), "unknown": words.is_unknown(value),
        "summary": row.get("summary") if row else None,
        "citation": row.get("citation") if row else None,
        "effective_date": row.get("effective_date") if row else None,
        "effective_text": words.nice_date(row.get("effective_date")) if row else "",
        "verified": bool(row and row.get("verified")),
        "needs_review": bool(row and row.get("needs_review")),
        "sources": _sources(row.get("sources")) if row else [],
        "retrieved_at": row.get("retrieved_at") if row else None,
        "retrieved_text": words.nice_date(row.get("retrieved_at")) if row else "",
        "note": row.get("note") if row else None,
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))] if row else [],
        "searched": meta.get("searched"),
        "state": row.get("state") if row else None,
    }


async def _topic_meta(db):
    if not await db.table_exists("state_law_topics"):
        return {}
    return {t["topic"]: t for t in await fetch(db, "select * from state_law_topics")}


async def _laws(db, state):
    return {r["topic"]: r for r in await fetch(db, "select * from state_laws where state = :state order by id",
                                               {"state": state})}


FEDERAL_TOPIC_TITLES = {"appeals": "Appeals and external review", "controlled_substances": "Controlled substances",
                        "telehealth": "Telehealth prescribing", "esketamine": "Spravato (esketamine) safety rules",
                        "billing_codes": "Billing codes"}


async def _federal_rules(db, topic_meta):
    """The US rows of state_laws (the same questions, answered federally) and federal_rules,
    grouped by topic (empty until that research lands)."""
    us_rows = await _laws(db, "US")
    groups = []
    if await db.table_exists("federal_rules"):
        for row in await fetch(db, "select * from federal_rules order by topic, id"):
            topic = row.get("topic") or "other"
            entry = _law_entry(topic, row, topic_meta)
            entry["title"] = None
            entry["value_text"] = str(row.get("value")) if not words.is_unknown(row.get("value")) else words.UNKNOWN
            entry["id"] = row.get("id")
            if not groups or groups[-1]["topic"] != topic:
                groups.append({"topic": topic, "title": FEDERAL_TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize()),
                               "rules": []})
            groups[-1]["rules"].append(entry)
    return ([_law_entry(topic, row, topic_meta) for topic, row in us_rows.items()], groups)


def _state_contacts(st, links):
    return {
        "insurance_department": st.get("insurance_department"),
        "insurance_department_url": st.get("insurance_department_url"),
        "insurance_department_link": words.safe_url(st.get("insurance_department_url")),
        "consumer_assistance_url": st.get("consumer_assistance_url"),
        "consumer_assistance_link": words.safe_url(st.get("consumer_assistance_url")),
        "external_review": st.get("external_review"),
        "external_review_text": words.law_value("external_review_process", st.get("external_review")),
        "sources": _sources(st.get("sources")),
        "retrieved_at": st.get("retrieved_at"), "retrieved_text": words.nice_date(st.get("retrieved_at")),
        "known": bool(st.get("insurance_department") or st.get("insurance_department_url")
                      or st.get("consumer_assistance_url")),
        "datasette_json": links.row("states", st["code"], fmt="json"),
    }


async def states_index(datasette):
    db = database(datasette)
    links = Links(datasette, db)
    rows = await fetch(db, "select code, name, clinic_count from states order by name")
    page = {"page": "states", "title": "State rules",
            "states": [{**r, "url": links.path(f"/state/{r['code']}")} for r in rows], "links": {}}
    page["links"]["page"] = links.path("/states")
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["datasette_json"] = links.table("states", fmt="json", _shape="objects")
    page["links"]["data_home"] = links.data_home()
    return page


async def state(datasette, code):
    db = database(datasette)
    links = Links(datasette, db)
    code = code.upper()
    rows = await fetch(db, "select * from states where code = :code", {"code": code})
    if not rows:
        raise NotFound(f"We have no state with the code {code!r}.")
    st = rows[0]
    topic_meta = await _topic_meta(db)
    laws = await _laws(db, code)
    groups = []
    placed = set()
    for key, heading, topics in words.TOPIC_GROUPS:
        groups.append({"key": key, "heading": heading,
                       "laws": [_law_entry(t, laws.get(t), topic_meta) for t in topics]})
        placed.update(topics)
    extra = [t for t in list(topic_meta) + list(laws) if t not in placed]
    if extra:
        groups.append({"key": "other", "heading": "Other rules",
                       "laws": [_law_entry(t, laws.get(t), topic_meta) for t in dict.fromkeys(extra)]})
    federal_laws, federal_rules = await _federal_rules(db, topic_meta)
    bills = None
    if await db.table_exists("bills"):
        bills = []
        for b in await fetch(db, "select * from bills where state = :state "
                                 "order by latest_action_date desc, identifier", {"state": code}):
            subjects = b.get("subjects")
            subjects = words.json_list(subjects) if str(subjects or "").startswith("[") else ([subjects] if subjects else [])
            bills.append({**{k: b.get(k) for k in ("session", "identifier", "title", "status", "latest_action",
                                                    "latest_action_date", "retrieved_at")},
                          "status_text": words.BILL_STATUS_WORDS.get(b.get("status"), (b.get("status") or "status unknown").replace("_", " ")),
                          "pending": b.get("status") not in words.BILL_DECIDED,
                          "latest_action_text": words.nice_date(b.get("latest_action_date")),
                          "retrieved_text": words.nice_date(b.get("retrieved_at")),
                          "subjects": [str(x) for x in subjects],
                          "matched_terms": [str(x) for x in words.json_list(b.get("matched_terms"))],
                          "url": b.get("url"), "link": words.safe_url(b.get("url")),
                          "sources": _sources(b.get("sources"))})
    clinic_rows = await fetch(db, "select id from clinics where state = :state order by name collate nocase",
                              {"state": code})
    clinics = await clinic_cards(links, db, [r["id"] for r in clinic_rows])
    page = {
        "page": "state",
        "title": f"{st['name']}: your rights and rules",
        "state": {"code": code, "name": st["name"]},
        "contacts": _state_contacts(st, links),
        "groups": groups,
        "federal": {"laws": federal_laws, "rules": federal_rules},
        "bills": bills,
        "clinics": [{"name": c["name"], "url": c["url"], "city": c["city"], "mapped": c["latitude"] is not None,
                     "location_note": c["location_note"], "treatments": c["treatments"],
                     "needs_review": c["needs_review"]} for c in clinics],
        "links": {},
    }
    page["links"]["page"] = links.path(f"/state/{code}")
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["search"] = links.path("/", state=code)
    page["links"]["checklist"] = links.path("/checklist", state=code)
    page["links"]["datasette_laws"] = links.table("state_laws", state=code)
    page["links"]["datasette_laws_json"] = links.table("state_laws", fmt="json", state=code, _shape="objects")
    page["links"]["datasette_federal_json"] = links.table("state_laws", fmt="json", state="US", _shape="objects")
    page["links"]["datasette_clinics_json"] = links.table("clinics", fmt="json", state=code, _shape="objects")
    page["links"]["datasette_bills_json"] = links.table("bills", fmt="json", state=code, _shape="objects") if bills is not None else None
    page["links"]["data_home"] = links.data_home()
    return page


# -- checklist ---------------------------------------------------------------------------------

def _stats(values):
    numbers = sorted(v for v in values if words.number(v) is not None)
    if not numbers:
        return {"count": 0}
    median = statistics.median(numbers)
    return {"count": len(numbers), "median": median, "min": numbers[0], "max": numbers[-1],
            "median_text": words.money(round(median, 2)), "min_text": words.money(numbers[0]),
            "max_text": words.money(numbers[-1])}


async def _price_stats(db, state):
    prices = []
    for column, label in PRICE_COLUMNS:
        where = f"{column} is not null and coalesce(reported_closed, 0) = 0"
        state_rows = await fetch(db, f"select {column} as usd, retrieved_at from clinics where state = :state and {where}",
                                 {"state": state})
        national_rows = await fetch(db, f"select {column} as usd, retrieved_at from clinics where {where}")
        entry = {"column": column, "label": label,
                 "state": _stats([r["usd"] for r in state_rows]),
                 "national": _stats([r["usd"] for r in national_rows])}
        entry["scope"] = "state" if entry["state"]["count"] >= 3 else "national"
        used = state_rows if entry["scope"] == "state" else national_rows
        dates = sorted(r["retrieved_at"] for r in used if r["retrieved_at"])
        entry["dates"] = {"oldest": words.nice_date(dates[0]), "newest": words.nice_date(dates[-1])} if dates else None
        prices.append(entry)
    series = await fetch(db, "select series_count from clinics where series_count is not null and price_series_usd is not null")
    counts = sorted(r["series_count"] for r in series if words.number(r["series_count"]))
    return prices, (statistics.median(counts) if counts else None)


async def checklist(datasette, args):
    db = database(datasette)
    links = Links(datasette, db)
    vocab = await vocabularies(db)
    state_code = (args.get("state") or "").strip().upper()
    state_row = next((s for s in vocab["states"] if s["code"] == state_code), None)
    insurer = (args.get("insurer") or "").strip()
    insurer_row = next((i for i in vocab["insurers"] if i["id"] == insurer), None)
    condition = (args.get("condition") or "").strip()
    condition_row = next((c for c in vocab["conditions"] if c["id"] == condition), None)
    errors = []
    for given, found, what in ((state_code, state_row, "state"), (condition, condition_row, "condition")):
        if given and not found:
            errors.append(f"We do not know the {what} \u201c{given}\u201d.")
    if insurer and insurer != SELF_PAY and not insurer_row:
        errors.append(f"We do not know the insurer \u201c{insurer}\u201d.")
    self_pay = insurer == SELF_PAY
    complete = bool(state_row and condition_row and (insurer_row or self_pay))
    page = {
        "page": "checklist",
        "title": "Coverage checklist",
        "query": {"state": state_row["code"] if state_row else "", "insurer": insurer if (insurer_row or self_pay) else "",
                  "condition": condition if condition_row else ""},
        "complete": complete, "errors": errors,
        "choices": {"states": vocab["states"], "insurers": vocab["insurers"], "conditions": vocab["conditions"]},
        "prepared_on": words.today_iso(), "prepared_text": words.nice_date(words.today_iso()),
        "links": {},
    }
    page["links"]["page"] = links.path("/checklist", **page["query"])
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["data_home"] = links.data_home()
    if not complete:
        return page

    code = state_row["code"]
    st = (await fetch(db, "select * from states where code = :code", {"code": code}))[0]
    topic_meta = await _topic_meta(db)
    conditions = {c["id"]: c["name"] for c in vocab["conditions"]}
    treatments = vocab["treatments"]
    page["state"] = {"code": code, "name": st["name"], "url": links.path(f"/state/{code}")}
    page["insurer"] = {"id": insurer, "name": insurer_row["name"] if insurer_row else "Paying yourself",
                       "self_pay": self_pay}
    page["condition"] = {"id": condition, "name": condition_row["name"]}
    page["title"] = f"Coverage checklist: {page['insurer']['name']}, {condition_row['name']}, {st['name']}"

    # The insurer's criteria, per treatment: rows for this condition first, then its other rows.
    policies = []
    if insurer_row:
        rows = await _policy_rows(db, insurer, CHECKLIST_TREATMENTS, code)
        for treatment in CHECKLIST_TREATMENTS:
            mine = [_policy_entry(r, conditions, treatments) for r in rows if r["treatment"] == treatment]
            policies.append({
                "treatment": treatment, "treatment_name": treatments.get(treatment, treatment),
                "description": None,
                "for_condition": [p for p in mine if p["condition"] == condition],
                "broader_conditions": [p for p in mine if p["condition"] in BROADER_CONDITIONS.get(condition, ())],
                "other_conditions": [p for p in mine if p["condition"] != condition
                                     and p["condition"] not in BROADER_CONDITIONS.get(condition, ())],
            })
        descriptions = {t["id"]: t["description"] for t in await fetch(db, "select id, description from treatments")}
        for p in policies:
            p["description"] = descriptions.get(p["treatment"])
    page["policies"] = policies
    page["policy_criteria"] = [
        {"treatment_name": p["treatment_name"], "market_text": entry["market_text"], "criteria": entry["criteria"],
         "policy_title": entry["policy_title"], "policy_id": entry["policy_id"]}
        for p in policies for entry in p["for_condition"]
        if entry["criteria"] and entry["coverage"] in ("covered", "covered_with_criteria")]

    laws = await _laws(db, code)
    us_laws = await _laws(db, "US")
    deadlines = []
    for topic in APPEAL_TOPICS:
        own = laws.get(topic)
        use_federal = own is None or words.is_unknown(own.get("value"))
        chosen = us_laws.get(topic) if use_federal else own
        entry = _law_entry(topic, chosen, topic_meta)
        entry["federal_fallback"] = use_federal and chosen is not None
        entry["state_entry"] = _law_entry(topic, own, topic_meta) if use_federal else None
        deadlines.append(entry)
    page["deadlines"] = deadlines
    page["federal_process"] = _law_entry("external_review_process", us_laws.get("external_review_process"), topic_meta) \
        if us_laws.get("external_review_process") else None
    page["help"] = _state_contacts(st, links)
    prices, series_count = await _price_stats(db, code)
    page["prices"] = prices
    page["typical_series_count"] = series_count
    page["links"]["state"] = page["state"]["url"]
    page["links"]["search"] = links.path("/", state=code, insurer=insurer, condition=condition)
    page["links"]["datasette_policies_json"] = (
        links.table("insurer_policies", fmt="json", insurer_id=insurer, _shape="objects") if insurer_row else None)
    page["links"]["datasette_laws_json"] = links.table("state_laws", fmt="json", state=code, _shape="objects")
    page["links"]["datasette_prices_sql"] = links.sql(
        "select state, count(price_initial_usd) as initial_prices, min(price_initial_usd), max(price_initial_usd), "
        "count(price_series_usd) as series_prices, min(price_series_usd), max(price_series_usd) "
        "from clinics group by state order by state")
    return page
