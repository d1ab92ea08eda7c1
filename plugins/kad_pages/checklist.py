"""The coverage checklist (/checklist): what a prior-authorization request needs, the insurer's
criteria, the steps and deadlines after a denial for the patient's kind of plan, where to get
help and typical prices, for one state, insurer, condition and kind of plan."""

from . import words
from .common import SELF_PAY, Links, Misconfigured, arg, database, fetch, source_links, vocabularies
from . import plans
from .laws import law_entry, laws_of, state_contacts, topics_of
from .policies import policy_entry, policy_rows
from .rates import state_rate_stats

CHECKLIST_TREATMENTS = ("iv_ketamine", "esketamine_spravato")
# Broader conditions whose policy rows also speak to a narrower one (the narrower is a kind of the
# broader by the vocabulary's own definitions): shown beside "no policy for your condition".
BROADER_CONDITIONS = {"treatment_resistant_depression": ("depression",), "postpartum_depression": ("depression",),
                      "crps": ("chronic_pain", "neuropathic_pain"), "fibromyalgia": ("chronic_pain",),
                      "neuropathic_pain": ("chronic_pain",)}
PRICE_COLUMNS = (("price_initial_usd", "A first infusion"), ("price_series_usd", "A whole series"))
NATIONAL = "US"  # price_stats' region for the whole directory (kad/prices.py), as state_laws' federal rows


def _stats(row):
    """A price_stats row as the page shows it; {"count": 0} when no clinic publishes the price."""
    if not row:
        return {"count": 0}
    median, low, high = row["median_usd"], row["min_usd"], row["max_usd"]
    return {"count": row["clinics"], "median": median, "min": low, "max": high,
            "median_text": words.money(round(median, 2)), "min_text": words.money(low),
            "max_text": words.money(high)}


async def _price_stats(db, state):
    """The state's and the nation's figures from price_stats (worked out in the build, kad/prices.py)."""
    if not await db.table_exists("price_stats"):
        raise Misconfigured("The database has no price_stats table: rebuild it with build_db.py.")
    rows = {(r["region"], r["price"]): r for r in await fetch(
        db, "select * from price_stats where region in (:state, :national)", {"state": state, "national": NATIONAL})}
    prices = []
    for column, label in PRICE_COLUMNS:
        own, national = rows.get((state, column)), rows.get((NATIONAL, column))
        entry = {"column": column, "label": label, "state": _stats(own), "national": _stats(national)}
        entry["scope"] = "state" if entry["state"]["count"] >= 3 else "national"
        used = own if entry["scope"] == "state" else national
        entry["dates"] = ({"oldest": words.nice_date(used["oldest_retrieved_at"]),
                           "newest": words.nice_date(used["newest_retrieved_at"])}
                          if used and used["oldest_retrieved_at"] else None)
        prices.append(entry)
    series = rows.get((NATIONAL, "price_series_usd"))
    return prices, (series["median_series_count"] if series else None)


async def checklist(datasette, args):
    db = database(datasette)
    links = Links(datasette, db)
    vocab = await vocabularies(db)
    state_code = arg(args, "state").upper()
    state_row = next((s for s in vocab["states"] if s["code"] == state_code), None)
    insurer = arg(args, "insurer")
    insurer_row = next((i for i in vocab["insurers"] if i["id"] == insurer), None)
    condition = arg(args, "condition")
    condition_row = next((c for c in vocab["conditions"] if c["id"] == condition), None)
    errors = []
    for given, found, what in ((state_code, state_row, "state"), (condition, condition_row, "condition")):
        if given and not found:
            errors.append(f"We do not know the {what} {words.quoted(given)}.")
    if insurer and insurer != SELF_PAY and not insurer_row:
        errors.append(f"We do not know the insurer {words.quoted(insurer)}.")
    self_pay = insurer == SELF_PAY
    complete = bool(state_row and condition_row and (insurer_row or self_pay))
    all_programs = await plans.programs(db)
    fitting = plans.candidates(all_programs, insurer_row) if insurer_row else []
    asked_plan = arg(args, "plan")
    program = plans.choose(fitting, asked_plan)
    if asked_plan and insurer_row and not program and asked_plan not in {p["id"] for p in fitting}:
        errors.append(f"{insurer_row['name']} does not run that kind of plan, so choose one of those below.")
    page = {
        "page": "checklist",
        "title": "Coverage checklist",
        "description": "A printable checklist for getting ketamine or Spravato treatment covered: what a "
                       "prior-authorization request needs, your insurer's criteria, appeal deadlines and "
                       "where to get help in your state.",
        "query": {"state": state_row["code"] if state_row else "", "insurer": insurer if (insurer_row or self_pay) else "",
                  "condition": condition if condition_row else "", "plan": program["id"] if program else ""},
        "complete": complete, "errors": errors,
        "choices": {"states": vocab["states"], "insurers": vocab["insurers"], "conditions": vocab["conditions"],
                    "plans": [{"id": p["id"], "name": p["name"]} for p in all_programs]},
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
    topic_meta = await topics_of(db)
    conditions = {c["id"]: c["name"] for c in vocab["conditions"]}
    treatments = vocab["treatments"]
    page["state"] = {"code": code, "name": st["name"], "url": links.path(f"/state/{code}")}
    page["insurer"] = {"id": insurer, "name": insurer_row["name"] if insurer_row else "Paying yourself",
                       "self_pay": self_pay}
    page["condition"] = {"id": condition, "name": condition_row["name"]}
    page["title"] = f"Coverage checklist: {page['insurer']['name']}, {condition_row['name']}, {st['name']}"
    page["description"] = (f"For {condition_row['name']} in {st['name']}"
                           + (" when paying yourself" if self_pay else f" with {insurer_row['name']}")
                           + ": what a prior-authorization request needs, the insurer's criteria for ketamine "
                             "and Spravato, appeal and external-review deadlines, and where to get help.")

    page["plan"] = _plan_choice(links, page["query"], program, fitting)
    market = plans.market_of(program)

    # The insurer's criteria, per treatment, for the kind of plan when it is known: rows for this
    # condition first, then its other rows.
    policies = []
    if insurer_row:
        rows = [r for r in await policy_rows(db, insurer, CHECKLIST_TREATMENTS, code)
                if market is None or r["market"] == market]
        for treatment in CHECKLIST_TREATMENTS:
            mine = [policy_entry(r, conditions, treatments) for r in rows if r["treatment"] == treatment]
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

    laws = await laws_of(db, code)
    us_laws = await laws_of(db, "US")
    # A program whose coverage rule is a state's (Medicaid and Spravato) shows the state's row.
    coverage_topic = program and program.get("coverage_state_law_topic")
    page["program_coverage"] = law_entry(coverage_topic, laws.get(coverage_topic), topic_meta) if coverage_topic else None
    page["path"] = await plans.path(db, program, code, laws, us_laws, topic_meta) if program else []
    page["help"] = state_contacts(st, links)
    prices, series_count = await _price_stats(db, code)
    page["prices"] = prices
    page["typical_series_count"] = series_count
    page["negotiated_rates"] = await state_rate_stats(db, code, insurer if insurer_row else None)
    page["links"]["datasette_rates_json"] = links.table("negotiated_rates", fmt="json", state=code, _shape="objects")
    page["links"]["state"] = page["state"]["url"]
    page["links"]["search"] = links.path("/", state=code, insurer=insurer, condition=condition)
    page["links"]["datasette_path_json"] = (
        links.table("appeal_paths", fmt="json", program=program["id"], _shape="objects") if program else None)
    page["links"]["datasette_policies_json"] = (
        links.table("insurer_policies", fmt="json", insurer_id=insurer, _shape="objects") if insurer_row else None)
    page["links"]["datasette_laws_json"] = links.table("state_laws", fmt="json", state=code, _shape="objects")
    page["links"]["datasette_prices_sql"] = links.sql(
        "select state, count(price_initial_usd) as initial_prices, min(price_initial_usd), max(price_initial_usd), "
        "count(price_series_usd) as series_prices, min(price_series_usd), max(price_series_usd) "
        "from clinics where coalesce(reported_closed, 0) = 0 group by state order by state")
    return page


def _plan_choice(links, query, program, fitting):
    """The chosen kind of plan, or the question that decides it, with a link per answer."""
    return {
        "chosen": {"id": program["id"], "name": program["name"], "description": program.get("description"),
                   "sources": source_links(program.get("sources"))} if program else None,
        "asked": program is None and bool(fitting),
        "options": [{"id": p["id"], "name": p["name"], "question": p["question"],
                     "url": links.path("/checklist", **{**query, "plan": p["id"]}),
                     "selected": bool(program) and p["id"] == program["id"]} for p in fitting],
    }
