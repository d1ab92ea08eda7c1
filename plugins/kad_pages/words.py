"""Plain words for the database's codes, and the filters that keep scraped text safe.

Everything a clinic's website says is untrusted. Templates escape it (Jinja autoescape); these
helpers make sure only http(s) addresses become links and that prices are printed from numbers.
"""

import json
import math
import re
from datetime import date, datetime
from urllib.parse import urlsplit

# -- safety ------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def safe_url(value):
    """The address if it is an absolute http or https URL with a host, else None.

    Control characters and whitespace anywhere make it unsafe (browsers strip them, so
    'java\\tscript:' would otherwise slip through)."""
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


ECHO_LENGTH = 40  # how much of a visitor's own input a message repeats


def quoted(text):
    """A visitor's input, cut to a phone-screen length, in curly quotes, for messages."""
    text = str(text)
    return "\u201c" + (text if len(text) <= ECHO_LENGTH else text[:ECHO_LENGTH - 1].rstrip() + "\u2026") + "\u201d"


def listing(names, most=3):
    """'A', 'A and B', 'A, B and C', or 'A, B, C and 2 more'."""
    names = [str(n) for n in names]
    if len(names) > most:
        names = names[:most] + [f"{len(names) - most} more"]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def number(value):
    """A finite int or float (not a bool, not text), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def money(value):
    """'$1,250' or '$99.50' from a number; '' for anything that is not a number."""
    value = number(value)
    if value is None:
        return ""
    if float(value).is_integer():
        return f"${value:,.0f}"
    return f"${value:,.2f}"


def json_list(value):
    """A JSON array column as a list ([] for NULL or bad JSON)."""
    if isinstance(value, list):
        return value
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return []
    return parsed if isinstance(parsed, list) else []


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]


def nice_date(value):
    """'2026-11-27' -> 'November 27, 2026'; '2026-11' -> 'November 2026'; other text unchanged."""
    if not value:
        return ""
    text = str(value)
    match = re.match(r"^(\d{4})-(\d{2})(?:-(\d{2}))?", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        return text
    year, month, day = match.group(1), _MONTHS[int(match.group(2)) - 1], match.group(3)
    return f"{month} {int(day)}, {year}" if day else f"{month} {year}"


def months_old(value, today=None):
    """Whole months between a 'YYYY-MM[-DD…]' date and today (None when unreadable)."""
    match = re.match(r"^(\d{4})-(\d{2})", str(value or ""))
    if not match:
        return None
    today = today or date.today()
    return (today.year - int(match.group(1))) * 12 + today.month - int(match.group(2))


def today_iso():
    return datetime.now().date().isoformat()


# -- vocabulary in plain words -----------------------------------------------------------------

INSURANCE_WORDS = {
    "in_network": "Says it is in network",
    "case_by_case": "Says it depends on your plan (case by case)",
    "superbill": "You pay; it gives you a receipt (superbill) to claim from your insurer",
    "not_covered": "Says insurance does not pay for it here",
    "unknown": "Not stated",
    None: "Not stated",
}

EVIDENCE_WORDS = {
    "clinic_website": "from the clinic's website",
    "curated": "hand-checked",
    "marketplace_directory": "from the insurer's marketplace provider file",
    "payer_directory": "from the insurer's provider directory",
    "medicare_claims": "from Medicare's claims data",
    "price_transparency_file": "from the insurer's price file",
}

# network_status in a few words, for cards (None: nothing to add to the evidence).
STATUS_WORDS = {
    "agrees": "confirmed by the insurer's own data",
    "payer_only": "listed by the insurer; the clinic does not say",
    "clinic_only": "not in the insurer's directory",
    "conflict": "the insurer lists it as not taking patients",
    "clinic_only_unchecked": None,
    None: None,
}

# The evidence ladder as the pages explain it, weakest first.
EVIDENCE_LADDER = [
    ("clinic_website", "The clinic's own website says it takes the insurer."),
    ("curated", "A person read it on a cited page (news, a directory, the clinic's pages)."),
    ("marketplace_directory / payer_directory", "The insurer's own published directory lists the clinic's NPI: "
     "an ACA marketplace provider file, or a provider-directory API."),
    ("medicare_claims", "Original Medicare paid this NPI for Spravato visits or infusions (CMS's yearly data)."),
    ("price_transparency_file", "The insurer published a negotiated rate for this NPI."),
]

PRECISION_WORDS = {
    "source": "Placed where its source says.",
    "street": "Placed at its street address.",
    "zip_centroid": "Approximate location: placed at the center of its ZIP code, so distances are rough.",
    "city_centroid": "Approximate location: placed at the center of its city, so distances are rough.",
    None: "No mapped location: we know its state but could not place it on the map.",
}

COVERAGE_WORDS = {
    "covered": "Covered",
    "covered_with_criteria": "Covered when the policy's criteria are met",
    "experimental": "Treated as experimental (usually not covered)",
    "not_medically_necessary": "Treated as not medically necessary (not covered)",
    "not_covered": "Not covered (excluded from the benefit)",
    "no_policy_found": "We found no written policy",
}

MARKET_WORDS = {
    "commercial": "Commercial and employer plans",
    "medicare_advantage": "Medicare Advantage",
    "medicare": "Medicare",
    "medicaid": "Medicaid",
    "tricare": "TRICARE",
    "va": "VA",
}

BILL_STATUS_WORDS = {
    "introduced": "Introduced", "in_committee": "In committee", "passed_one_chamber": "Passed one chamber",
    "passed_legislature": "Passed the legislature", "enacted": "Enacted", "vetoed": "Vetoed", "failed": "Failed",
    "withdrawn": "Withdrawn", "unknown": "Status unknown", None: "Status unknown",
}
BILL_DECIDED = {"enacted", "vetoed", "failed", "withdrawn"}

# state_laws.basis: said beside a figure that is not the state's own law.
BASIS_WORDS = {"federal_process": "the federal review's limit: this state uses the federal (HHS-run) external review"}

# The two routes some programs give after a denial (appeal_paths.track).
TRACK_WORDS = {
    "medical_necessity": "If it says the treatment is not medically necessary",
    "factual": "If it says the treatment is not a covered benefit, or refuses for another factual reason",
    "clinical_appeal": "If you disagree with a VA clinical decision (your treatment or a referral)",
    "decision_review": "If you disagree with a VA health-benefits decision",
}
FLAG_WORDS = {1: "Yes", 0: "No", None: "Not stated"}

# What kind of place it is, said on its card when it is not an ordinary clinic.
FACILITY_WORDS = {
    "va_medical_center": "VA medical center: for veterans enrolled in VA health care",
}

# The order and grouping of the state page; topics not named here appear under "Other rules".
TOPIC_GROUPS = [
    ("appeals", "If your insurer says no: appeals and external review",
     ["internal_appeal_deadline_days", "external_review_process", "external_review_deadline_days",
      "expedited_review_hours"]),
    ("prior-auth", "Prior authorization, step therapy and parity",
     ["prior_authorization_law", "step_therapy_law", "gold_card_law", "mental_health_parity_law"]),
    ("clinic-rules", "Who may run infusion clinics",
     ["crna_supervision_opt_out", "np_practice_authority"]),
    ("programs", "Medicaid and Spravato; psilocybin",
     ["medicaid_spravato_coverage", "psilocybin_program"]),
]

TOPIC_TITLES = {
    "external_review_process": "Who runs independent (external) review",
    "internal_appeal_deadline_days": "Time you have to file an internal appeal",
    "external_review_deadline_days": "Time you have to ask for external review",
    "expedited_review_hours": "Deadline for an urgent (expedited) external review decision",
    "step_therapy_law": "Step therapy (\u2018fail first\u2019) protections",
    "prior_authorization_law": "Time limits on prior-authorization decisions",
    "gold_card_law": "\u2018Gold card\u2019 exemption from prior authorization",
    "mental_health_parity_law": "Mental health parity",
    "crna_supervision_opt_out": "Nurse anesthetists without physician supervision (Medicare opt-out)",
    "np_practice_authority": "Nurse practitioners\u2019 practice authority",
    "psilocybin_program": "State psilocybin program",
    "medicaid_spravato_coverage": "Medicaid coverage of Spravato",
}

_VALUE_WORDS = {
    "external_review_process": {"state": "The state runs it", "hhs_federal": "The federal (HHS) process",
                                "mixed": "Partly the state, partly the federal process"},
    "np_practice_authority": {"full": "Full practice", "reduced": "Reduced practice",
                              "restricted": "Restricted practice"},
    "psilocybin_program": {"enacted_not_operating": "Enacted, not yet operating"},
    "medicaid_spravato_coverage": {"covered": "Covered", "covered_with_pa": "Covered with prior authorization",
                                   "not_covered": "Not covered"},
}
_COMMON_VALUES = {"yes": "Yes", "no": "No", "partial": "Partly", "none": "No deadline"}
UNKNOWN = "We could not confirm this"
NUMERIC_UNITS = {"internal_appeal_deadline_days": "days", "external_review_deadline_days": "days",
                 "expedited_review_hours": "hours"}


def law_value(topic, value):
    """The short answer of a state_laws row in words."""
    if value is None or str(value).strip() in ("", "unknown"):
        return UNKNOWN
    text = str(value)
    if topic in NUMERIC_UNITS and text.isdigit():
        return f"{int(text)} {NUMERIC_UNITS[topic]}"
    return _VALUE_WORDS.get(topic, {}).get(text) or _COMMON_VALUES.get(text) or text.replace("_", " ")


def is_unknown(value):
    return value is None or str(value).strip() in ("", "unknown")


def topic_title(topic):
    return TOPIC_TITLES.get(topic) or topic.replace("_", " ").capitalize()


def review_note(needs_review, conflicts):
    """The warning a clinic card shows, or None."""
    if conflicts:
        fields = ", ".join(sorted({c.get("field", "?").replace("_", " ") for c in conflicts}))
        return f"Sources disagree about: {fields}. Check with the clinic."
    if needs_review:
        return "Some facts here are weak (for example inferred from a name or area code). Check with the clinic."
    return None
