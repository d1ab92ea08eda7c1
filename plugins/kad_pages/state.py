"""The state pages (/states and /state/TX?page=2): a state's rules in plain words, the federal
floor, bills, and the clinics we know there, a page of them at a time."""

import math
import re

from . import words
from .cards import clinic_cards
from .common import Links, NotFound, database, fetch, source_links
from .laws import law_entry, laws_of, state_contacts, topics_of


CLINICS_PER_PAGE = 100  # a state's clinic list, a page at a time (Texas had 5,951 at 100,000 clinics)
OPEN = "coalesce(reported_closed, 0) = 0"  # a clinic a source reports closed is listed apart, never as open
FEDERAL_TOPIC_TITLES = {"appeals": "Appeals and external review", "controlled_substances": "Controlled substances",
                        "telehealth": "Telehealth prescribing", "esketamine": "Spravato (esketamine) safety rules",
                        "billing_codes": "Billing codes"}


async def _federal_rules(db, topic_meta):
    """The US rows of state_laws (the same questions, answered federally) and federal_rules,
    grouped by topic (empty until that research lands)."""
    us_rows = await laws_of(db, "US")
    groups = []
    if await db.table_exists("federal_rules"):
        for row in await fetch(db, "select * from federal_rules order by topic, id"):
            topic = row.get("topic") or "other"
            entry = law_entry(topic, row, topic_meta)
            entry["title"] = None
            entry["value_text"] = str(row.get("value")) if not words.is_unknown(row.get("value")) else words.UNKNOWN
            entry["id"] = row.get("id")
            if not groups or groups[-1]["topic"] != topic:
                groups.append({"topic": topic, "title": FEDERAL_TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize()),
                               "rules": []})
            groups[-1]["rules"].append(entry)
    return ([law_entry(topic, row, topic_meta) for topic, row in us_rows.items()], groups)


async def states_index(datasette):
    db = database(datasette)
    links = Links(datasette, db)
    rows = await fetch(db, "select code, name, clinic_count from states order by name")
    page = {"page": "states", "title": "State rules",
            "description": "What each US state's rules let you do when an insurer denies ketamine or Spravato "
                           "treatment: appeals, external review, step therapy, prior authorization and parity.",
            "states": [{**r, "url": links.path(f"/state/{r['code']}")} for r in rows], "links": {}}
    page["links"]["page"] = links.path("/states")
    page["links"]["json"] = links.json(page["links"]["page"])
    page["links"]["datasette_json"] = links.table("states", fmt="json", _shape="objects")
    page["links"]["data_home"] = links.data_home()
    return page


async def _clinic_pages(db, links, code, asked):
    """Which slice of the state's clinics this page lists (CLINICS_PER_PAGE at a time, by name),
    with the addresses of the pages before and after it. A page number that is not a number
    gives the first page; one past the end gives the last."""
    total = (await fetch(db, f"select count(*) as n from clinics where state = :state and {OPEN}",
                         {"state": code}))[0]["n"]
    pages = max(1, math.ceil(total / CLINICS_PER_PAGE))
    number = min(max(int(asked), 1), pages) if re.fullmatch(r"[0-9]{1,9}", asked or "") else 1
    first = (number - 1) * CLINICS_PER_PAGE + 1
    address = lambda n: links.path(f"/state/{code}", page=n if n > 1 else None) + "#clinics"
    return {"page": number, "pages": pages, "per_page": CLINICS_PER_PAGE, "total": total,
            "first": first, "last": min(total, number * CLINICS_PER_PAGE),
            "previous": address(number - 1) if number > 1 else None,
            "next": address(number + 1) if number < pages else None}


async def state(datasette, code, args):
    db = database(datasette)
    links = Links(datasette, db)
    code = code.upper()
    rows = await fetch(db, "select * from states where code = :code", {"code": code})
    if not rows:
        raise NotFound(f"We have no state with the code {code!r}.")
    st = rows[0]
    topic_meta = await topics_of(db)
    laws = await laws_of(db, code)
    groups = []
    placed = set()
    for key, heading, topics in words.TOPIC_GROUPS:
        groups.append({"key": key, "heading": heading,
                       "laws": [law_entry(t, laws.get(t), topic_meta) for t in topics]})
        placed.update(topics)
    extra = [t for t in list(topic_meta) + list(laws) if t not in placed]
    if extra:
        groups.append({"key": "other", "heading": "Other rules",
                       "laws": [law_entry(t, laws.get(t), topic_meta) for t in dict.fromkeys(extra)]})
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
                          "sources": source_links(b.get("sources"))})
    clinic_pages = await _clinic_pages(db, links, code, args.get("page"))
    open_rows = await fetch(db, f"select id from clinics where state = :state and {OPEN} "
                                "order by name collate nocase, id limit :limit offset :offset",
                            {"state": code, "limit": CLINICS_PER_PAGE, "offset": clinic_pages["first"] - 1})
    closed_rows = await fetch(db, f"select id from clinics where state = :state and not {OPEN} "
                                  "order by name collate nocase, id", {"state": code})

    async def entries(rows):
        return [{"name": c["name"], "url": c["url"], "city": c["city"], "mapped": c["latitude"] is not None,
                 "location_note": c["location_note"], "treatments": c["treatments"], "needs_review": c["needs_review"],
                 "facility_label": c["facility_label"]} for c in await clinic_cards(links, db, [r["id"] for r in rows])]
    page = {
        "page": "state",
        "title": f"{st['name']}: your rights and rules",
        "description": f"{st['name']}: how to appeal an insurer's denial of ketamine or Spravato treatment and ask "
                       f"for external review, with deadlines; step therapy, prior authorization and Medicaid rules; "
                       f"and the {clinic_pages['total']} clinic{'' if clinic_pages['total'] == 1 else 's'} "
                       "the directory lists there.",
        "state": {"code": code, "name": st["name"]},
        "contacts": state_contacts(st, links),
        "groups": groups,
        "federal": {"laws": federal_laws, "rules": federal_rules},
        "bills": bills,
        "clinics": await entries(open_rows),
        "closed_clinics": await entries(closed_rows),
        "clinic_pages": clinic_pages,
        "links": {},
    }
    page["links"]["page"] = links.path(f"/state/{code}", page=clinic_pages["page"] if clinic_pages["page"] > 1 else None)
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
