"""The search page (/ and /search): find care near a ZIP code, a city or in a state, with
filters, and ways to widen a search that finds nothing.

Search reuses the `clinics_near_zip` canned query from metadata.yml (bounding box, then haversine,
NULL coordinates skipped) rather than a copy of its SQL.
"""

from itertools import combinations

from .cards import clinic_cards, map_points
from . import words
from .common import SELF_PAY, Links, Misconfigured, arg, database, fetch, pick, vocabularies

NEAR_QUERY = "clinics_near_zip"
DEFAULT_MILES = 25
RADII = (10, 25, 50, 100, 250)
MAX_MILES = 500
WIDE_MILES = 3000  # "nearest clinics outside the radius" looks this far (the whole country)
NEAR_LIMIT = 200  # the canned query returns at most this many clinics
TREATMENT_CHOICES = (("", "Any treatment"), ("iv_ketamine", "IV ketamine"),
                     ("esketamine_spravato", "Spravato (esketamine)"))

# The canned query's insurer and condition tests, plus treatment, for lists that are not "near".
# A veteran asking for VA care is also shown VA medical centers: the VA runs them itself.
FILTERS_SQL = """
  and (:insurer = '' or exists (
    select 1 from clinic_insurers join insurers on insurers.id = clinic_insurers.insurer_id
    where clinic_insurers.clinic_id = clinics.id and :insurer in (insurers.id, insurers.name)
      and (:confirmed = '' or clinic_insurers.network_status in ('agrees', 'payer_only')))
    or clinics.facility_kind = 'va_medical_center' and exists (
      select 1 from insurers where insurers.kind = 'va' and :insurer in (insurers.id, insurers.name)))
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

    raw = {k: arg(args, k) for k in ("zip", "city", "state", "miles", "insurer", "confirmed", "condition", "treatment")}
    miles, miles_adjusted = _miles(raw["miles"] or DEFAULT_MILES)
    if miles_adjusted:
        notes.append(f"Distance set to {miles} miles (we search between 1 and {MAX_MILES}).")
    insurer = raw["insurer"]
    if insurer and insurer != SELF_PAY and insurer not in insurer_ids:
        insurer = insurer_by_name.get(insurer.lower(), "")
        if not insurer:
            errors.append(f"We do not know the insurer {words.quoted(raw['insurer'])}, so we searched every insurer.")
    condition = pick(raw["condition"], {c["id"] for c in vocab["conditions"]}) or ""
    if raw["condition"] and not condition:
        errors.append(f"We do not know the condition {words.quoted(raw['condition'])}, so we searched every condition.")
    treatment = pick(raw["treatment"], {t for t, _ in TREATMENT_CHOICES} | set(vocab["treatments"])) or ""
    state = raw["state"].upper()
    if state and state not in state_codes:
        errors.append(f"{words.quoted(raw['state'])} is not a US state code.")
        state = ""
    zip_code = raw["zip"]
    if zip_code and not (len(zip_code) == 5 and zip_code.isdigit()):
        errors.append(f"{words.quoted(zip_code)} is not a 5-digit ZIP code.")
        zip_code = ""

    # "Only where the insurer's own data confirms it" narrows an insurer choice; alone it means nothing.
    confirmed = "1" if raw["confirmed"] and insurer and insurer != SELF_PAY else ""
    query = {"zip": zip_code, "city": raw["city"], "state": state, "miles": miles, "insurer": insurer,
             "confirmed": confirmed, "condition": condition, "treatment": treatment}
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
        "description": "Find ketamine-infusion and Spravato (esketamine) clinics near you in the US: which "
                       "insurers they list, what they charge, and what your insurer's policy and your "
                       "state's rules say.",
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
                           if names[key] and query[key]]
        + ([f"only where {names['insurer']}'s own data confirms it"] if confirmed else []),
        "links": {},
    }
    filters = {"insurer": "" if insurer == SELF_PAY else insurer, "confirmed": confirmed, "condition": condition,
               "treatment": treatment}

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
                notes.append(f"We could not find {words.quoted(raw['city'] + ', ' + state)} in our ZIP code list, so here is every "
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
        await _search_state(datasette, db, links, page, state, filters, search_url)
    return page


def _count(count):
    return "No clinic" if count == 0 else f"{count} clinic{'s' if count != 1 else ''}"


async def _city_origin(db, city, state):
    rows = await fetch(db, "select zip, city, state, latitude, longitude from zip_codes "
                           "where city = :city collate nocase and state = :state and latitude is not null",
                       {"city": city, "state": state})
    center = _middle(rows)
    return {**center, "kind": "city"} if center else None


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
    params = {"zip": origin["zip"], "miles": str(miles), **{k: filters[k] for k in ("insurer", "confirmed", "condition")}}
    page["links"]["datasette_query"] = links.query(NEAR_QUERY, **params)
    page["links"]["datasette_json"] = links.query(NEAR_QUERY, fmt="json", _shape="objects", **params)

    origin_point = {"lat": origin["latitude"], "lon": origin["longitude"], "label": page["origin"]["label"]}
    if not page["results"]:
        page["widen"] = await _widen(datasette, db, links, page, origin, miles, filters, search_url)
        page["map"] = map_points(page["widen"]["nearest"], origin_point)
    else:
        page["map"] = map_points(page["results"], origin_point)
    await _unmapped(db, links, page, origin["state"], filters)


FILTER_LABELS = {"insurer": "any insurer", "condition": "any condition", "treatment": "any treatment"}
MAX_WIDENINGS = 5


def _relaxations(filters):
    """Every way of dropping some of the active filters, fewest dropped first: () keeps them all."""
    active = [key for key in FILTER_LABELS if filters.get(key)]
    return [dropped for size in range(len(active) + 1) for dropped in combinations(active, size)]


def _within(rows, radius):
    return sum(1 for r in rows if r["distance_miles"] <= radius)


def _no_better(option, earlier):
    """Dropping more filters, no nearer, finding no more clinics: nothing gained over `earlier`."""
    return (set(earlier["dropped"]) <= set(option["dropped"]) and earlier["miles"] <= option["miles"]
            and earlier["count"] >= option["count"])


def _widening(dropped, radius, count, search_url):
    labels = [FILTER_LABELS[key] for key in dropped]
    return {"miles": radius, "dropped": list(dropped), "count": count, "capped": count >= NEAR_LIMIT,
            "label": f"within {radius} miles" + (" with " + " and ".join(labels) if labels else ""),
            "url": search_url(miles=radius, **{key: "" for key in dropped})}


async def _widen(datasette, db, links, page, origin, miles, filters, search_url):
    """When nothing matches: for every way of relaxing the search (farther; dropping the insurer,
    the condition or the treatment; or several at once) the nearest radius at which it finds a
    clinic, with the count (options that find nothing are left out); the nearest matching clinics
    in any direction; and matching clinics whose location we do not know, anywhere."""
    radii = [miles, *(r for r in RADII if r > miles)]
    options = []
    for dropped in _relaxations(filters):
        relaxed = {**filters, **{key: "" for key in dropped}}
        found = await _near(datasette, db, origin["zip"], WIDE_MILES if not dropped else radii[-1], relaxed)
        if not dropped:  # every filter kept: the next two radii that find more
            wide, shown = found, 0
            for radius in radii[1:]:
                if _within(found, radius) > shown and len(options) < 2:
                    shown = _within(found, radius)
                    options.append(_widening(dropped, radius, shown, search_url))
        else:  # some filters dropped: the nearest radius at which that finds a clinic
            radius = next((r for r in radii if _within(found, r)), None)
            if radius is not None:
                options.append(_widening(dropped, radius, _within(found, radius), search_url))
    options.sort(key=lambda o: (o["miles"], len(o["dropped"])))
    options = [o for i, o in enumerate(options) if not any(_no_better(o, earlier) for earlier in options[:i])]
    nearest_rows = wide[:5]
    nearest = await clinic_cards(links, db, [r["id"] for r in nearest_rows],
                                 {r["id"]: r["distance_miles"] for r in nearest_rows}, page["query"]["insurer"])
    return {"options": options[:MAX_WIDENINGS], "nearest": nearest,
            "unmapped_elsewhere": await _unmapped_elsewhere(db, links, origin["state"], filters, search_url),
            "state_page": links.path(f"/state/{origin['state']}")}


async def _unmapped_elsewhere(db, links, state, filters, search_url):
    """States other than `state` with matching clinics that have no mapped location (so no distance)."""
    rows = await fetch(db, f"""
        select clinics.state as code, states.name, count(*) as count from clinics
          join states on states.code = clinics.state
        where clinics.state != :state and (clinics.latitude is null or clinics.longitude is null)
          and coalesce(clinics.reported_closed, 0) = 0 {FILTERS_SQL}
        group by clinics.state order by states.name""", {"state": state, **filters})
    return [{**r, "url": search_url(zip="", city="", state=r["code"])} for r in rows]


async def _filtered_state_ids(db, state, filters, mapped):
    """The open matching clinics in the state: with a mapped location (mapped=True), without one
    (False), or either (None)."""
    where = {True: "latitude is not null and longitude is not null", False: "(latitude is null or longitude is null)",
             None: "1"}[mapped]
    rows = await fetch(db, f"select id from clinics where state = :state and {where} "
                           f"and coalesce(reported_closed, 0) = 0 {FILTERS_SQL} "
                           "order by name collate nocase", {"state": state, **filters})
    return [r["id"] for r in rows]


async def _unmapped(db, links, page, state, filters):
    ids = await _filtered_state_ids(db, state, filters, mapped=False)
    page["unmapped"] = await clinic_cards(links, db, ids, None, page["query"]["insurer"])
    name = await fetch(db, "select name from states where code = :code", {"code": state})
    page["unmapped_state"] = {"code": state, "name": name[0]["name"] if name else state,
                              "url": links.path(f"/state/{state}"),
                              "mapped_matches": len(await _filtered_state_ids(db, state, filters, mapped=True))}


async def _state_middle(db, state):
    """The state's ZIP code nearest the mean of its ZIP centroids."""
    rows = await fetch(db, "select zip, latitude, longitude from zip_codes where state = :state "
                           "and latitude is not null", {"state": state})
    return _middle(rows)


def _middle(rows):
    if not rows:
        return None
    lat = sum(r["latitude"] for r in rows) / len(rows)
    lon = sum(r["longitude"] for r in rows) / len(rows)
    return min(rows, key=lambda r: (r["latitude"] - lat) ** 2 + (r["longitude"] - lon) ** 2)


async def _search_state(datasette, db, links, page, state, filters, search_url):
    ids = await _filtered_state_ids(db, state, filters, mapped=True)
    page["results"] = await clinic_cards(links, db, ids, None, page["query"]["insurer"])
    count = len(page["results"])
    page["results_heading"] = f"{_count(count)} with a mapped location in {page['names']['state']}"
    page["map"] = map_points(page["results"])
    await _unmapped(db, links, page, state, filters)
    page["links"]["datasette_json"] = links.table("clinics", fmt="json", state=state, _shape="objects")
    page["links"]["datasette_query"] = links.table("clinics", state=state)
    if page["results"] or page["unmapped"]:
        return
    options = []
    for dropped in _relaxations(filters)[1:]:
        relaxed = {**filters, **{key: "" for key in dropped}}
        found = len(await _filtered_state_ids(db, state, relaxed, None))
        if found:
            labels = " and ".join(FILTER_LABELS[key] for key in dropped)
            options.append({"miles": None, "dropped": list(dropped), "count": found, "capped": False,
                            "label": f"in {page['names']['state']} with {labels}",
                            "url": search_url(**{key: "" for key in dropped})})
    # The nearest matching clinics in any direction, measured from the middle of the state.
    middle = await _state_middle(db, state)
    nearest = []
    if middle:
        nearest_rows = (await _near(datasette, db, middle["zip"], WIDE_MILES, filters))[:5]
        nearest = await clinic_cards(links, db, [r["id"] for r in nearest_rows],
                                     {r["id"]: r["distance_miles"] for r in nearest_rows}, page["query"]["insurer"])
    page["widen"] = {"options": options[:MAX_WIDENINGS], "nearest": nearest,
                     "nearest_from": f"the middle of {page['names']['state']} (ZIP {middle['zip']})" if middle else None,
                     "unmapped_elsewhere": await _unmapped_elsewhere(db, links, state, filters, search_url),
                     "state_page": links.path(f"/state/{state}")}
