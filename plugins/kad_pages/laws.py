"""State and federal rules as the state page and the checklist show them, and a state's contacts."""

from . import words
from .common import fetch, source_links


def law_entry(topic, row, topic_meta):
    meta = topic_meta.get(topic, {})
    value = row.get("value") if row else None
    return {
        "topic": topic, "title": words.topic_title(topic), "question": meta.get("question"),
        "found": row is not None,
        "value": value, "value_text": words.law_value(topic, value), "unknown": words.is_unknown(value),
        "basis": row.get("basis") if row else None,
        "basis_text": words.BASIS_WORDS.get(row.get("basis")) if row and row.get("state") != "US" else None,
        "summary": row.get("summary") if row else None,
        "citation": row.get("citation") if row else None,
        "effective_date": row.get("effective_date") if row else None,
        "effective_text": words.nice_date(row.get("effective_date")) if row else "",
        "verified": bool(row and row.get("verified")),
        "needs_review": bool(row and row.get("needs_review")),
        "sources": source_links(row.get("sources")) if row else [],
        "retrieved_at": row.get("retrieved_at") if row else None,
        "retrieved_text": words.nice_date(row.get("retrieved_at")) if row else "",
        "note": row.get("note") if row else None,
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))] if row else [],
        "searched": meta.get("searched"),
        "state": row.get("state") if row else None,
    }


async def topics_of(db):
    if not await db.table_exists("state_law_topics"):
        return {}
    return {t["topic"]: t for t in await fetch(db, "select * from state_law_topics")}


async def laws_of(db, state):
    return {r["topic"]: r for r in await fetch(db, "select * from state_laws where state = :state order by id",
                                               {"state": state})}



def _tel(phone):
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return "+1" + digits[-10:] if len(digits) >= 10 else None


def state_contacts(st, links):
    """Who in the state helps a patient: the insurance regulator and the consumer assistance
    program, with the phone numbers and addresses the data has (`tel` links for phones)."""
    keys = ("insurance_department", "insurance_department_url", "insurance_department_phone",
            "insurance_department_address", "consumer_assistance_program", "consumer_assistance_url",
            "consumer_assistance_phone", "consumer_assistance_address", "contact_note")
    contacts = {key: st.get(key) for key in keys}
    return {
        **contacts,
        "insurance_department_link": words.safe_url(st.get("insurance_department_url")),
        "insurance_department_tel": _tel(st.get("insurance_department_phone")),
        "consumer_assistance_link": words.safe_url(st.get("consumer_assistance_url")),
        "consumer_assistance_tel": _tel(st.get("consumer_assistance_phone")),
        "external_review": st.get("external_review"),
        "external_review_text": words.law_value("external_review_process", st.get("external_review")),
        "sources": source_links([*words.json_list(st.get("sources")), *words.json_list(st.get("contact_sources"))]),
        "retrieved_at": st.get("contact_retrieved_at") or st.get("retrieved_at"),
        "retrieved_text": words.nice_date(st.get("contact_retrieved_at") or st.get("retrieved_at")),
        "known": any(contacts[key] for key in keys if key != "contact_note"),
        "datasette_json": links.row("states", st["code"], fmt="json"),
    }
