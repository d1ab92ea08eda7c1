"""What each kind of network evidence says about one clinic, insurer by insurer, in plain sentences
with the date it was read (the clinic page's "In network?" section)."""

import json

from . import words
from .common import fetch


def _detail(row):
    try:
        detail = json.loads(row.get("detail") or "{}")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _sentence(row, insurer):
    """One evidence row as a sentence (without its date)."""
    detail, kind = _detail(row), row["evidence"]
    name = row.get("network") or ""
    network = f" in the {name}{'' if name.lower().endswith('network') else ' network'}" if name else ""
    plans = json.loads(row.get("plan_ids") or "[]")
    plan_text = f" (plans {', '.join(map(str, plans[:5]))}{' and more' if len(plans) > 5 else ''})" if plans else ""
    if kind == "clinic_website":
        return f"The clinic's website says it takes {insurer}."
    if kind == "curated":
        return f"A page we read by hand says the clinic takes {insurer}."
    if kind == "payer_directory":
        accepting = {"newpt": " and accepting new patients", "nopt": ", not accepting patients",
                     "existptonly": ", taking existing patients only"}.get(detail.get("accepting_new_patients"), "")
        return f"{insurer}'s provider directory lists this provider{network}{plan_text}{accepting}."
    if kind == "marketplace_directory":
        tiers = sorted({p.get("network_tier") for p in detail.get("plans") or [] if p.get("network_tier")})
        tier_text = f", tier {', '.join(tiers)}" if tiers else ""
        return f"{insurer}'s marketplace provider file lists this provider{plan_text}{tier_text}."
    if kind == "medicare_claims":
        counts = ", ".join(f"{detail[k]} {label}" for k, label in (("services", "services"), ("beneficiaries", "patients"))
                           if detail.get(k) is not None)
        year = f" in {detail['data_year']}" if detail.get("data_year") else ""
        return (f"Original Medicare paid this provider for {detail.get('hcpcs_code') or 'the code'}"
                f"{' (' + counts + ')' if counts else ''}{year}.")
    if kind == "price_transparency_file":
        code = f" for {detail['billing_code']}" if detail.get("billing_code") else ""
        return f"{insurer} published a negotiated rate with this provider{code}."
    return f"{words.EVIDENCE_WORDS.get(kind, kind)}."


async def clinic_network(db, clinic_id, state):
    """Per insurer of the clinic: its status and what each piece of evidence says, with dates."""
    links = await fetch(db, """
        select clinic_insurers.insurer_id, clinic_insurers.network_status, insurers.name
        from clinic_insurers join insurers on insurers.id = clinic_insurers.insurer_id
        where clinic_insurers.clinic_id = :clinic order by insurers.name collate nocase""", {"clinic": clinic_id})
    evidence = await fetch(db, """
        select * from network_evidence where clinic_id = :clinic
        order by insurer_id, evidence, retrieved_at desc""", {"clinic": clinic_id})
    directories_read = {r["insurer_id"]: r["read_at"] for r in await fetch(db, """
        select insurer_id, max(retrieved_at) as read_at from network_evidence
        where state = :state and evidence in ('marketplace_directory', 'payer_directory') group by insurer_id""",
        {"state": state})}
    insurers = []
    for link in links:
        name = link["name"]
        rows = [r for r in evidence if r["insurer_id"] == link["insurer_id"]]
        says = [{"evidence": r["evidence"], "text": _sentence(r, name), "source_url": r["source_url"],
                 "source_link": words.safe_url(r["source_url"]), "read": words.nice_date(r["retrieved_at"])}
                for r in rows]
        status = link["network_status"]
        if status == "clinic_only":
            says.append({"evidence": "not_listed", "source_url": None, "source_link": None, "read": None,
                         "text": f"{name}'s directory was read on {words.nice_date(directories_read.get(link['insurer_id']))} "
                                 "and does not list it."})
        insurers.append({"id": link["insurer_id"], "name": name, "status": status,
                         "status_text": words.STATUS_WORDS.get(status), "says": says})
    # Said once for all of them, not under each insurer.
    unchecked = [i["name"] for i in insurers if i["status"] == "clinic_only_unchecked"]
    return {"insurers": insurers, "unchecked": unchecked,
            "ladder": [{"kind": k, "text": t} for k, t in words.EVIDENCE_LADDER]}
