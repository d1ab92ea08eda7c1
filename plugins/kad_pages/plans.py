"""Kinds of plan and their appeal paths (appeal_programs, appeal_paths), as the checklist shows
them: which kinds of plan an insurer can be (and so which plain question to ask), the chosen
kind's coverage rules, and its steps after a denial, with the state's own rules beside the steps
they govern.

A kind of plan is decided by the insurer alone when only one fits (TRICARE, VA, an insurer that
sells only FEHB plans); otherwise the patient answers one question, and until then no path is
shown, because a path for the wrong kind of plan gives the wrong deadlines.
"""

from . import words
from .common import fetch, source_links
from .laws import law_entry

# The insurer_policies market that holds each kind of plan's coverage rules.
PROGRAM_MARKETS = {
    "employer_fully_insured": "commercial", "individual_marketplace": "commercial",
    "employer_self_funded_erisa": "commercial", "fehb": "commercial",
    "medicare_part_b": "medicare", "medicare_part_d": "medicare", "medicare_advantage": "medicare_advantage",
    "medicaid_fee_for_service": "medicaid", "medicaid_managed_care": "medicaid",
    "tricare": "tricare", "va_community_care": "va",
}


async def programs(db):
    if not await db.table_exists("appeal_programs"):
        return []
    rows = await fetch(db, "select * from appeal_programs order by rowid")
    for row in rows:
        row["insurer_kinds"] = words.json_list(row["insurer_kinds"])
    return rows


def candidates(all_programs, insurer):
    """The kinds of plan this insurer can be: those its kind sells or runs; FEHB only for an
    insurer that carries FEHB plans, and nothing else for one that carries only FEHB plans."""
    if insurer.get("fehb_carrier") == "only":
        return [p for p in all_programs if p["id"] == "fehb"]
    return [p for p in all_programs if insurer.get("kind") in p["insurer_kinds"]
            and (p["id"] != "fehb" or insurer.get("fehb_carrier"))]


def choose(fitting, asked):
    """The kind of plan: the one asked for when it fits, the only one that fits, else None."""
    by_id = {p["id"]: p for p in fitting}
    if asked in by_id:
        return by_id[asked]
    return fitting[0] if len(fitting) == 1 else None


def market_of(program):
    return PROGRAM_MARKETS.get(program["id"]) if program else None


# Topics whose federal (US) row is the floor under the state's rule for the plans that follow state
# law: the ACA's appeal and external-review minimums. Other US rows (e.g. prior-authorization
# limits for Medicare Advantage and Medicaid) are no floor for these plans.
FEDERAL_FLOOR_TOPICS = {"internal_appeal_deadline_days", "external_review_process",
                        "external_review_deadline_days", "expedited_review_hours"}


def state_or_federal(topic, laws, us_laws, topic_meta):
    """The state's rule on a topic, or the federal floor's when the state's is missing or unknown
    and the topic has one (flagged, with what was found for the state)."""
    own = laws.get(topic)
    floor = us_laws.get(topic) if topic in FEDERAL_FLOOR_TOPICS else None
    use_federal = floor is not None and (own is None or words.is_unknown(own.get("value")))
    entry = law_entry(topic, floor if use_federal else own, topic_meta)
    entry["federal_fallback"] = use_federal
    entry["state_entry"] = law_entry(topic, own, topic_meta) if use_federal else None
    return entry


def _step(row, laws, us_laws, topic_meta, shown_elsewhere):
    return {
        "id": row["id"], "step": row["step"], "step_kind": row["step_kind"], "track": row.get("track") or None,
        "name": row["step_name"], "who_decides": row.get("who_decides"),
        "deadline_to_ask": row.get("deadline_to_ask"), "deadline_days": row.get("deadline_days"),
        "decision_time": row.get("decision_time"), "decision_days": row.get("decision_days"),
        "expedited": row.get("expedited"), "amount_rule": row.get("amount_rule"),
        "citation": row.get("citation"), "summary": row.get("summary"), "note": row.get("note"),
        "state": row.get("state") or None,
        "sources": source_links(row.get("sources")),
        "retrieved_at": row.get("retrieved_at"), "retrieved_text": words.nice_date(row.get("retrieved_at")),
        "verified": bool(row.get("verified")), "needs_review": bool(row.get("needs_review")),
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))],
        "state_rules": [state_or_federal(topic, laws, us_laws, topic_meta)
                        for topic in words.json_list(row.get("state_law_topics")) if topic != shown_elsewhere],
    }


async def path(db, program, state, laws, us_laws, topic_meta):
    """The program's steps in the state, grouped: steps every route shares, then each route
    (track) with its own steps. A state's row replaces the national row of the same step. The
    program's own coverage rule (Medicaid's Spravato rule) is shown with the policies, not here."""
    rows = await fetch(db, """
        select * from appeal_paths where program = :program and (state is null or state = '' or state = :state)
        order by step, coalesce(track, ''), state is not null and state != ''""",
                       {"program": program["id"], "state": state})
    chosen = {}
    for row in rows:  # national rows first, so the state's row of a step wins
        chosen[(row.get("track") or None, row["step"])] = row
    groups = {}
    for (track, _), row in sorted(chosen.items(), key=lambda item: (item[0][0] or "", item[0][1])):
        group = groups.setdefault(track, {"track": track, "label": words.TRACK_WORDS.get(track), "steps": []})
        group["steps"].append(_step(row, laws, us_laws, topic_meta, program.get("coverage_state_law_topic")))
    return [groups[track] for track in sorted(groups, key=lambda t: (t is not None, t or ""))]
