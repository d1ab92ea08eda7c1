"""The search page (/ and /search): find care near a ZIP code, a city or in a state, with
filters, and ways to widen a search that finds nothing.

Search reuses the `clinics_near_zip` canned query from metadata.yml (bounding box, then haversine,
NULL coordinates skipped) rather than a copy of its SQL.
"""

from .cards import clinic_cards, map_points
from .common import SELF_PAY, Links, Misconfigured, database, fetch, pick, vocabularies

NEAR_QUERY = "clinics_near_zip"
DEFAULT_MILES = 25
RADII = (10, 25, 50, 100, 250)
MAX_MILES = 500
WIDE_MILES = 3000  # "nearest clinics outside the radius" looks this far (the whole country)
TREATMENT_CHOICES = (("", "Any treatment"), ("iv_ketamine", "IV ketamine"),
                     ("esketamine_spravato", "Spravato (esketamine)"))

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
    condition = pick(raw["condition"], {c["id"] for c in vocab["conditions"]}) or ""
    if raw["condition"] and not condition:
        errors.append(f"We do not know the condition \u201c{raw['condition']}\u201d, so we searched every condition.")
    treatment = pick(raw["treatment"], {t for t, _ in TREATMENT_CHOICES} | set(vocab["treatments"])) or ""
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
        page["map"] = map_points(page["widen"]["nearest"], origin_point)
    else:
        page["map"] = map_points(page["results"], origin_point)
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
    page["map"] = map_points(page["results"])
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
