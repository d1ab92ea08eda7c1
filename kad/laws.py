"""Reference and rules tables: vocabularies, states (with whom to call), state laws, federal rules,
insurer policies.

All of it is hand-checked data from data/curated/; each row keeps its sources. A row whose value
is outside its vocabulary is reported and left out rather than published wrong.
"""

from kad import CURATED, normalise, read_yaml, vocab

STATE_LAW_VALUES = {
    "external_review_process": {"state", "hhs_federal", "mixed", "unknown"},
    "step_therapy_law": {"yes", "no", "unknown"},
    "prior_authorization_law": {"yes", "no", "unknown"},
    "gold_card_law": {"yes", "no", "unknown"},
    "mental_health_parity_law": {"yes", "no", "partial", "unknown"},
    "crna_supervision_opt_out": {"yes", "no", "partial", "unknown"},
    "np_practice_authority": {"full", "reduced", "restricted", "unknown"},
    "psilocybin_program": {"yes", "no", "enacted_not_operating", "unknown"},
    "medicaid_spravato_coverage": {"covered", "covered_with_pa", "not_covered", "unknown"},
}
NUMERIC_TOPICS = {"internal_appeal_deadline_days", "external_review_deadline_days", "expedited_review_hours"}
TOPICS = (*STATE_LAW_VALUES, *NUMERIC_TOPICS)
MARKETS = {"commercial", "medicare_advantage", "medicaid", "tricare", "va", "medicare"}
# not_covered (a benefit exclusion with no medical reason given) extends the first contract's list; see docs/data-contract.md.
COVERAGE = {"covered", "covered_with_criteria", "experimental", "not_medically_necessary", "not_covered",
            "no_policy_found"}
ROW_COLUMNS = {"sources": str, "retrieved_at": str, "verified": int, "needs_review": int, "note": str}
# Whose limit a state_laws figure is; a state that runs no review of its own gets the federal process's.
BASES = {"state_law", "federal_process"}


# Whether an insurer's plans are Federal Employees Health Benefits plans: all of them ("only"),
# some beside other plans ("also"); absent when not checked.
FEHB_CARRIER = {None, "only", "also"}
# Whom a patient can call or write: read from pages other than the agency facts, so dated apart.
STATE_CONTACT_COLUMNS = {"insurance_department_phone": str, "insurance_department_address": str,
                         "consumer_assistance_program": str, "consumer_assistance_phone": str,
                         "consumer_assistance_address": str, "contact_note": str, "contact_sources": str,
                         "contact_retrieved_at": str}


def load_reference(db, report, record_source):
    """Vocabulary tables and the 51 jurisdictions (their cited pages go to `record_source`)."""
    for table, vocabulary in (("treatments", vocab.treatments()), ("conditions", vocab.conditions()),
                              ("insurers", vocab.insurers())):
        db[table].insert_all(({**entry, "aliases": entry.get("aliases", [])}
                              for entry in vocabulary.entries.values()), pk="id", alter=True)
    if "fehb_carrier" not in db["insurers"].columns_dict:  # in the contract even when no entry states it
        db["insurers"].add_column("fehb_carrier", str)
    for entry in vocab.insurers().entries.values():
        if entry.get("fehb_carrier") not in FEHB_CARRIER:
            report.problem(f"curated/insurers.yml {entry['id']}",
                           f"fehb_carrier {entry['fehb_carrier']!r} left out: not one of only, also", "insurer_invalid")
            db["insurers"].update(entry["id"], {"fehb_carrier": None})
        for url in entry.get("sources", []):
            record_source(url, "insurer_reference", "curated", entry.get("retrieved_at"))
    path = CURATED / "states.yml"
    curated = {row["code"]: row for row in read_yaml(path) or []}
    db["states"].create({"code": str, "name": str, "fips": str, "insurance_department": str,
                         "insurance_department_url": str, "consumer_assistance_url": str,
                         "external_review": str, "clinic_count": int, "note": str, "sources": str,
                         "retrieved_at": str, **STATE_CONTACT_COLUMNS, "needs_review": int}, pk="code",
                        defaults={"needs_review": 0})
    db["states"].insert_all(
        {"code": code, "name": state.name, "fips": state.fips,
         **{k: curated.get(code, {}).get(k) for k in ("insurance_department", "insurance_department_url",
                                                      "consumer_assistance_url", "note", "retrieved_at")},
         "sources": curated.get(code, {}).get("sources", []),
         **state_contacts(curated.get(code, {}), f"{curated_where(path)} {code}", report)}
        for code, state in sorted(normalise.JURISDICTIONS.items()))
    for row in curated.values():
        for url in row.get("sources") or []:
            record_source(url, "state_agency", "curated", row.get("retrieved_at"))
        for url in row.get("contact_sources") or []:
            record_source(url, "state_agency", "curated", row.get("contact_retrieved_at"))


def state_contacts(row, where, report):
    """A state's phone and address columns; a number that is not a US phone is reported and left
    out, and contacts without the pages they were read from are left out whole."""
    contacts = {key: row.get(key) for key in STATE_CONTACT_COLUMNS}
    contacts["contact_sources"] = row.get("contact_sources") or []
    stated = [key for key in STATE_CONTACT_COLUMNS if key not in ("contact_sources", "contact_retrieved_at")
              and contacts[key]]
    if stated and not (contacts["contact_sources"] and contacts["contact_retrieved_at"]):
        report.problem(where, "contacts left out: no contact_sources or contact_retrieved_at", "state_contact_invalid")
        return {key: None for key in STATE_CONTACT_COLUMNS} | {"contact_sources": []}
    for key in ("insurance_department_phone", "consumer_assistance_phone"):
        try:
            contacts[key] = normalise.phone(contacts[key])
        except ValueError as error:
            report.problem(where, f"{key} left out: {error}", "state_contact_invalid")
            contacts[key] = None
    return contacts


def load_policy_data(db, report, record_source):
    """state_laws (+ topics), federal_rules and insurer_policies from data/curated/."""
    db["state_law_topics"].create({"topic": str, "question": str, "values": str, "searched": str}, pk="topic")
    db["state_laws"].create({"id": str, "state": str, "topic": str, "value": str, "basis": str, "summary": str,
                             "citation": str, "effective_date": str, **ROW_COLUMNS}, pk="id",
                            foreign_keys=[("topic", "state_law_topics", "topic")])
    for path in sorted((CURATED / "state_laws").glob("*.yml")):
        data = read_yaml(path)
        topic = data["topic"]
        db["state_law_topics"].insert({k: data.get(k) for k in ("topic", "question", "values", "searched")})
        db["state_laws"].insert_all(
            curated_rows(data["rows"], path, report, record_source, "state_law",
                  lambda row: _state_law_problem(topic, row),
                  lambda row: {"id": f"{row['state']}:{topic}", "topic": topic}))
    db.execute("UPDATE states SET external_review = (SELECT value FROM state_laws WHERE "
               "state_laws.state = states.code AND topic = 'external_review_process')")

    db["federal_rules"].create({"id": str, "topic": str, "value": str, "summary": str, "citation": str,
                                "effective_date": str, **ROW_COLUMNS}, pk="id")
    path = CURATED / "federal_rules.yml"
    db["federal_rules"].insert_all(curated_rows(read_yaml(path) or [], path, report, record_source, "federal_rule",
                                         lambda row: None, lambda row: {}))

    db["insurer_policies"].create({"id": str, "insurer_id": str, "market": str, "state": str,
                                   "treatment": str, "condition": str, "coverage": str, "criteria": str,
                                   "prior_authorization": int, "policy_id": str, "policy_title": str,
                                   "effective_date": str, "date_kind": str, **ROW_COLUMNS}, pk="id",
                                  foreign_keys=[("insurer_id", "insurers", "id"), ("treatment", "treatments", "id"),
                                                ("condition", "conditions", "id")])
    path = CURATED / "insurer_policies.yml"
    db["insurer_policies"].insert_all(curated_rows(read_yaml(path) or [], path, report, record_source, "insurer_policy",
                                            _policy_problem, _policy_keys), replace=True)


def curated_where(path):
    """How problems name a curated file: curated/<name> for the project's own files."""
    return path.relative_to(CURATED.parent) if path.is_relative_to(CURATED.parent) else path.name


def curated_rows(rows, path, report, record_source, kind, problem_of, extra):
    """Rows that pass their checks, with their sources recorded; the rest reported."""
    for number, row in enumerate(rows, 1):
        where = f"{curated_where(path)} row {number}"
        problem = problem_of(row) or (None if row.get("sources") else "no sources")
        if problem:
            report.problem(where, f"left out: {problem}", f"{kind}_invalid")
            continue
        for url in row["sources"]:
            record_source(url, kind, "curated", row.get("retrieved_at"))
        out = {k: v for k, v in row.items() if k != "insurer"}
        out.update(extra(row))
        out["needs_review"] = int(bool(row.get("needs_review")))
        out["verified"] = int(bool(row.get("verified")))
        for key in ("value", "effective_date"):
            if out.get(key) is not None:
                out[key] = str(out[key])
        yield out


def _state_law_problem(topic, row):
    if row.get("state") not in normalise.JURISDICTIONS and row.get("state") != "US":
        return f"unknown jurisdiction {row.get('state')!r}"
    if row.get("basis") is not None and row["basis"] not in BASES:
        return f"basis {row['basis']!r} is not one of {', '.join(sorted(BASES))}"
    value = str(row.get("value"))
    if topic in NUMERIC_TOPICS:
        # "none": the law sets no deadline (e.g. Texas for an IRO request), which is not unknown.
        return None if value in ("unknown", "none") or value.isdigit() else \
            f"{topic} must be a whole number, none or unknown, not {value!r}"
    if value not in STATE_LAW_VALUES.get(topic, {value}):
        return f"{value!r} is not a value of {topic}"
    return None


def _policy_problem(row):
    ids, _ = vocab.insurers().map_names([row.get("insurer") or ""])
    if len(ids) != 1:
        return f"insurer {row.get('insurer')!r} is not one insurer of the vocabulary"
    checks = ((row.get("market"), MARKETS, "market"), (row.get("coverage"), COVERAGE, "coverage"),
              (row.get("treatment"), vocab.treatments().entries, "treatment"),
              (row.get("condition"), vocab.conditions().entries, "condition"))
    for value, allowed, name in checks:
        if value not in allowed:
            return f"{name} {value!r} is not in its vocabulary"
    return None


def policy_row_id(row):
    """The insurer_policies.id the build gives a curated row (insurer:market:state-or-US:
    treatment:condition), or None for a row the build leaves out."""
    if _policy_problem(row) or not row.get("sources"):
        return None
    return _policy_keys(row)["id"]


def _policy_keys(row):
    insurer_id = vocab.insurers().map_names([row["insurer"]])[0][0]
    key = ":".join([insurer_id, row["market"], row.get("state") or "US", row["treatment"], row["condition"]])
    return {"id": key, "insurer_id": insurer_id}


def index_policy_data(db):
    for table, columns in (("state_laws", (["state"], ["topic"], ["value"])),
                           ("insurer_policies", (["insurer_id"], ["treatment"], ["condition"], ["coverage"]))):
        for column in columns:
            db[table].create_index(column, if_not_exists=True)


def check_policy_data(db):
    failures = []
    for table in ("state_laws", "federal_rules", "insurer_policies"):
        unsourced = db.execute(f"SELECT count(*) FROM {table} WHERE json_array_length(sources) = 0").fetchone()[0]
        if unsourced:
            failures.append(f"{unsourced} {table} rows have no source")
    return failures
