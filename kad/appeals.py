"""Appeal paths: for each kind of plan, what a patient does after a denial, step by step.

``data/curated/appeal_paths.yml`` holds two lists, loaded into two tables:

* ``programs`` -> ``appeal_programs``: the kinds of plan whose rules differ (employer plan bought
  from an insurer, self-funded employer plan, Medicare Part B, Medicaid managed care, TRICARE ...),
  which insurer kinds sell or run them, the plain question that tells them apart, and where the
  program's own coverage rules are (an insurer's policies, or a state-law topic).
* ``rows`` -> ``appeal_paths``: one row per program, state (empty for the national rule), track
  (where a program has two routes, e.g. TRICARE's medical-necessity and factual appeals) and step:
  who decides, the deadline to ask (text, and days where the rule counts in days), how long the
  decision may take, the fast version, the citation, a summary in the project's own words, and
  the state-law topics or federal rules that hold the details. A state row replaces the national
  row of the same program, track and step.

A row or program outside its vocabulary, or without sources, is reported and left out.
"""

import re

from kad import CURATED, laws, normalise, read_yaml, vocab

APPEAL_PATHS = CURATED / "appeal_paths.yml"
INSURER_KINDS = {"commercial", "medicare", "medicaid", "tricare", "va"}
STEP_KINDS = {
    "initial_decision",    # the plan's first answer to a request or claim
    "plan_appeal",         # the plan or its contractor looks again (internal appeal, redetermination ...)
    "independent_review",  # a reviewer outside the plan (IRO, QIC, IRE, TRICARE's quality contractor)
    "agency_review",       # the government agency that runs the program (OPM, DHA, VA)
    "hearing",             # an administrative hearing (ALJ, state fair hearing)
    "council_review",      # the Medicare Appeals Council
    "court",               # a federal court
}
TRACKS = {None, "medical_necessity", "factual", "clinical_appeal", "decision_review"}
PROGRAM_COLUMNS = {"id": str, "name": str, "insurer_kinds": str, "question": str, "description": str,
                   "coverage_insurer_id": str, "coverage_state_law_topic": str, "sources": str,
                   "retrieved_at": str}
PATH_COLUMNS = {"id": str, "program": str, "state": str, "track": str, "step": int, "step_kind": str,
                "step_name": str, "who_decides": str, "deadline_to_ask": str, "deadline_days": int,
                "decision_time": str, "decision_days": int, "expedited": str, "amount_rule": str,
                "citation": str, "summary": str, "state_law_topics": str, "federal_rule_ids": str,
                **laws.ROW_COLUMNS}


def load_appeal_paths(db, report, record_source, path=APPEAL_PATHS):
    """appeal_programs and appeal_paths from the curated file."""
    data = read_yaml(path) or {}
    db["appeal_programs"].create(PROGRAM_COLUMNS, pk="id",
                                 foreign_keys=[("coverage_insurer_id", "insurers", "id"),
                                               ("coverage_state_law_topic", "state_law_topics", "topic")])
    db["appeal_paths"].create(PATH_COLUMNS, pk="id", foreign_keys=[("program", "appeal_programs", "id")])
    programs = {}
    for number, program in enumerate(data.get("programs") or [], 1):
        problem = program_problem(program)
        if problem:
            report.problem(f"{laws.curated_where(path)} program {number}", f"left out: {problem}", "appeal_program_invalid")
            continue
        programs[program["id"]] = {key: program.get(key) for key in PROGRAM_COLUMNS}
        for url in program["sources"]:
            record_source(url, "appeal_rule", "curated", program.get("retrieved_at"))
    db["appeal_programs"].insert_all(programs.values())
    federal_ids = federal_rule_ids()
    seen = set()

    def problem_of(row):
        problem = row_problem(row, programs, federal_ids)
        if not problem and path_id(row) in seen:
            problem = f"a second row for {path_id(row)}"
        if not problem:
            seen.add(path_id(row))
        return problem

    db["appeal_paths"].insert_all(laws.curated_rows(
        data.get("rows") or [], path, report, record_source, "appeal_rule", problem_of,
        lambda row: {"id": path_id(row), "state_law_topics": row.get("state_law_topics") or [],
                     "federal_rule_ids": row.get("federal_rule_ids") or []}))
    for columns in (["program"], ["state"], ["program", "state", "track", "step"]):
        db["appeal_paths"].create_index(columns, if_not_exists=True)


def path_id(row):
    """program:state-or-US:track-or-all:step, e.g. tricare:US:factual:3."""
    return ":".join([str(row.get("program")), row.get("state") or "US", row.get("track") or "all",
                     str(row.get("step"))])


def federal_rule_ids():
    path = CURATED / "federal_rules.yml"
    return {row["id"] for row in (read_yaml(path) or [])}


def program_problem(program):
    if not re.fullmatch(r"[a-z][a-z0-9_]*", str(program.get("id"))):
        return f"id {program.get('id')!r} is not a slug"
    for key in ("name", "question", "description"):
        if not program.get(key):
            return f"no {key}"
    kinds = program.get("insurer_kinds")
    if not kinds or not set(kinds) <= INSURER_KINDS:
        return f"insurer_kinds {kinds!r} must list kinds of {', '.join(sorted(INSURER_KINDS))}"
    insurer = program.get("coverage_insurer_id")
    if insurer is not None and insurer not in vocab.insurers().entries:
        return f"coverage_insurer_id {insurer!r} is not an insurer of the vocabulary"
    topic = program.get("coverage_state_law_topic")
    if topic is not None and topic not in laws.TOPICS:
        return f"coverage_state_law_topic {topic!r} is not a state-law topic"
    return _sources_problem(program)


def row_problem(row, programs, federal_ids):
    """Why a curated row cannot be published, or None."""
    checks = ((row.get("program"), programs, "program"), (row.get("track"), TRACKS, "track"),
              (row.get("step_kind"), STEP_KINDS, "step_kind"))
    for value, allowed, name in checks:
        if value not in allowed:
            return f"{name} {value!r} is not in its vocabulary"
    if row.get("state") is not None and row["state"] not in normalise.JURISDICTIONS:
        return f"unknown jurisdiction {row['state']!r}"
    if not _whole(row.get("step")):
        return f"step {row.get('step')!r} is not a whole number from 1"
    for key in ("step_name", "who_decides", "summary", "citation"):
        if not row.get(key):
            return f"no {key}"
    for days, text in (("deadline_days", "deadline_to_ask"), ("decision_days", "decision_time")):
        if row.get(days) is None:
            continue
        if not _whole(row[days]):
            return f"{days} {row[days]!r} is not a whole number of days"
        # The number must be the one the text gives, so the two cannot drift apart.
        if not re.search(rf"\b{row[days]} (calendar )?days\b", row.get(text) or ""):
            return f"{days} {row[days]} is not stated as days in {text}"
    unknown = set(row.get("state_law_topics") or []) - set(laws.TOPICS)
    if unknown:
        return f"state_law_topics {sorted(unknown)} are not state-law topics"
    unknown = set(row.get("federal_rule_ids") or []) - federal_ids
    if unknown:
        return f"federal_rule_ids {sorted(unknown)} are not federal rules"
    return _sources_problem(row)


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _sources_problem(record):
    sources = record.get("sources")
    if not sources or not all(normalise.is_web_address(url) for url in sources):
        return "sources must be a list of http(s) addresses"
    if not record.get("retrieved_at"):
        return "no retrieved_at"
    return None


def check(db):
    """Failures of the built tables: every path row sourced, every program with a first step."""
    failures = []
    unsourced = db.execute("SELECT count(*) FROM appeal_paths WHERE json_array_length(sources) = 0").fetchone()[0]
    if unsourced:
        failures.append(f"{unsourced} appeal_paths rows have no source")
    without_start = [row[0] for row in db.execute(
        "SELECT id FROM appeal_programs WHERE id NOT IN "
        "(SELECT program FROM appeal_paths WHERE step = 1 AND state IS NULL)")]
    if without_start:
        failures.append(f"appeal programs without a national first step: {', '.join(without_start)}")
    return failures
