"""What a page says about insurance: the insurers a clinic says it takes (or does not), how each
treatment is paid (in network, case by case, superbill, not covered), read from statements: a
denial refuses, a hedge ("your plan may cover") and an open question say nothing, a question
answered "no" refuses, and self-pay / cash-pay / private-pay wording means not covered."""

import re
from dataclasses import dataclass, field

from kad import vocab

from crawlers.extract.statements import statements

_INSURANCE_WORDS = re.compile(
    r"\b(insurance|insurances|insurers?|in[- ]network|accept(?:s|ed|ing)?|participat\w*|"
    r"contracted|carriers?|health plans?|we take|we bill|billing|payers?|coverage|covered|"
    r"reimburs\w*|super[- ]?bills?|(?:self|cash|private)[- ]pay\w*|cash[- ]only)\b", re.I)
_NEGATIVE = re.compile(
    r"\b(?:not|no longer|don'?t|do not|does not|doesn'?t|cannot|can'?t|unable to|never)\b"
    r"[^.]{0,40}?\b(?:accept|take|bill|in[- ]network|participat\w*|contracted|covered|cover)|"
    r"\bout[- ]of[- ]network\b|\bno insurance\b|\b(?:self|cash|private)[- ]pay\b|"
    r"\bnot (?:currently )?(?:an? )?in[- ]network\b", re.I)
# "Your plan may cover it", "depending on your plan": not a statement that an insurer is taken.
_HEDGED = re.compile(
    r"\b(?:may|might|could|possibly|potentially)\b(?:\s+\w+){0,3}?\s+(?:cover|covers|covered|accept|"
    r"accepted|take|reimburse|reimbursed|pay|be in[- ]network)\b|\bdepending on\b|\bcheck with your\b|"
    r"\bverify (?:your|with)\b|\b(?:if|whether) your (?:plan|insurance|insurer|policy|benefits|carrier)\b", re.I)
# A question about coverage ("Is Spravato covered by insurance?") answered "no".
_COVERAGE_QUESTION = re.compile(
    r"\bcover(?:s|ed)?\b|\b(?:accept|take|bill)\b[^?]{0,30}\binsurance\b|\bin[- ]network\b", re.I)
# An address or "City, VA office" is not the VA: remove such text before reading insurer names.
_ADDRESS_NOISE = re.compile(
    r"\b[A-Z]{2}\.?\s+\d{5}(?:-\d{4})?\b|(?<=[a-z]),\s+[A-Z]{2}\b(?=\s+(?:office|clinic|location|area)\b)")

_SPRAVATO = re.compile(r"\b(?:spravato|es-?ketamine)\b", re.I)
_KETAMINE = re.compile(r"(?<![-\w])(?:ketamine|infusions?)\b", re.I)
_STATUS_PATTERNS = (
    ("superbill", re.compile(r"\bsuper[- ]?bills?\b", re.I)),
    ("case_by_case", re.compile(r"\bcase[- ]by[- ]case\b", re.I)),
    ("not_covered", re.compile(
        r"\bnot (?:typically |usually |currently |yet )?covered\b|\b(?:insurance|insurers|plans?)"
        r" (?:does|do|will)(?: not|n't) (?:cover|pay)|\b(?:do|does|can)(?: not|n't) "
        r"(?:accept|take|bill)(?: any)? (?:health )?insurance|"
        r"\b(?:self|cash|private)[- ]pay(?:ing)?\b(?![^.]{0,40}\b(?:without insurance|uninsured))|\bcash[- ]only\b",
        re.I)),
    ("in_network", re.compile(
        r"\bin[- ]network\b|\baccept(?:s|ed)?\b[^.]{0,60}\b(?:insurance|plans?)\b|"
        r"\bwe (?:bill|take)\b[^.]{0,30}\binsurance\b|\binsurance (?:is )?accepted\b", re.I)),
)
_ACCEPTS = re.compile(r"\baccept|\bin[- ]network\b|\bparticipat|\bcontracted\b", re.I)
STATUS_ORDER = ("in_network", "case_by_case", "superbill", "not_covered")


def _statuses(clause):
    found = {name for name, pattern in _STATUS_PATTERNS if pattern.search(clause)}
    if "in_network" in found and _NEGATIVE.search(clause):
        found.discard("in_network")
    return found


def _treatments_named(*texts):
    """Which of ('ketamine', 'spravato') the nearest text that names one names."""
    for text in texts:
        named = set()
        if _SPRAVATO.search(text):
            named.add("spravato")
        if _KETAMINE.search(_SPRAVATO.sub(" ", text)):
            named.add("ketamine")
        if named:
            return named
    return set()


@dataclass
class InsuranceFacts:
    accepted: list = field(default_factory=list)  # insurer names or ids the site says it takes
    refused: list = field(default_factory=list)  # insurer ids it says it does not take
    statuses: dict = field(default_factory=lambda: {"ketamine": set(), "spravato": set()})


def insurance_facts(segs):
    facts = InsuranceFacts()
    insurers = vocab.insurers()
    # Lists introduced by insurance words: every short item of a list in which at least one
    # item is a known insurer (so "Aetna / Cigna / Synthetic Mutual" keeps the unknown name).
    groups = {}
    for segment in segs:
        if segment.tag == "li" and segment.group:
            groups.setdefault(segment.group, []).append(segment)
    for items in groups.values():
        context = items[0].context
        if not _INSURANCE_WORDS.search(context) or _NEGATIVE.search(context):
            continue
        names = [s.text for s in items if len(s.text) <= 80]
        if any(insurers.ids_in(_ADDRESS_NOISE.sub(" ", name)) for name in names):
            facts.accepted.extend(n for n in names if n not in facts.accepted)
    # Statements about insurance.
    for statement in statements(segs):
        segment, sentence, clause = statement.segment, statement.sentence, statement.clause
        listed = segment.tag == "li" and bool(_INSURANCE_WORDS.search(segment.context))
        if not (_INSURANCE_WORDS.search(sentence) or listed):
            continue
        if statement.asked:  # "Do you take Medicaid? No." refuses; an open question says nothing
            if statement.answer == "no":
                ids = insurers.ids_in(_ADDRESS_NOISE.sub(" ", clause))
                facts.refused.extend(i for i in ids if i not in facts.refused)
                if _COVERAGE_QUESTION.search(clause):
                    for treatment in _treatments_named(clause, segment.heading):
                        facts.statuses[treatment].add("not_covered")
            continue
        hedged = bool(_HEDGED.search(clause))
        statuses = _statuses(clause)
        if hedged:
            statuses.discard("in_network")
        elif _INSURANCE_WORDS.search(clause) or listed or statement.excepted or statement.bare_not:
            ids = insurers.ids_in(_ADDRESS_NOISE.sub(" ", clause))
            negative = (statement.excepted or statement.bare_not or _NEGATIVE.search(clause)
                        or (listed and _NEGATIVE.search(segment.context)))
            target = facts.refused if negative else facts.accepted
            target.extend(i for i in ids if i not in target)
            if ids and not negative and _ACCEPTS.search(clause):
                statuses.add("in_network")  # "we accept Medicare for ketamine infusions"
        if statuses:
            for treatment in _treatments_named(clause, sentence, segment.heading):
                facts.statuses[treatment] |= statuses
    return facts


def best_status(statuses):
    return next((s for s in STATUS_ORDER if s in statuses), None)

