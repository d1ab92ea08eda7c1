"""Insurer policy rows as the clinic page and the checklist show them."""

import json

from . import words
from .common import fetch, source_links


def policy_entry(row, conditions, treatments):
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
        "sources": source_links(row.get("sources")),
        "retrieved_at": row.get("retrieved_at"), "retrieved_text": words.nice_date(row.get("retrieved_at")),
        "verified": bool(row.get("verified")), "needs_review": bool(row.get("needs_review")),
        "note": row.get("note"),
        "review_reasons": [str(r) for r in words.json_list(row.get("review_reasons"))],
    }


async def policy_rows(db, insurer_id, treatments, state):
    if not await db.table_exists("insurer_policies"):
        return []
    return await fetch(db, """
        select * from insurer_policies where insurer_id = :insurer
          and treatment in (select value from json_each(:treatments))
          and (state is null or state = '' or state = :state)
        order by treatment, condition, market, state""",
        {"insurer": insurer_id, "treatments": json.dumps(list(treatments)), "state": state})
