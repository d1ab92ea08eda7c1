"""Statements, not words: which parts of a page state something, and which deny it, hedge it or
only ask it.

``statements(segs)`` yields every clause of the visible text with what surrounds it: its
sentence, its segment (with the heading, and the paragraph that introduces a list), whether it
follows "except" / "other than", whether it begins with a bare "not" ("..., but not X"), and,
for a question, how the next sentence answers it ("Do you offer Spravato? No, ..."). The
insurance reader (insurance.py) and ``offered`` (treatments and conditions) decide with these
what counts: a denial, a plan for the future or a question that is not answered "yes" never adds
a fact.
"""

import re
from dataclasses import dataclass

from crawlers.extract.text import Segment, sentences

# Where a sentence's parts end (the words that open an exception, "all plans except Medicaid",
# are kept), and where, inside a part, its clauses end (an aside in brackets or dashes).
_PART = re.compile(r";|,?\s\b(but|however|except(?: for)?|other than|excluding|with the exception of)\b", re.I)
_ASIDE = re.compile(r"\(|\)|\s[-–—]\s")
_EXCEPTIONS = ("except", "other than", "excluding", "with the exception of")
_BARE_NOT = re.compile(r"(?:not|never|nor)\b", re.I)
# How a question is answered, from the first words of the next sentence.
_NO = re.compile(r"(?:no\b|nope\b|not (?:at this time|currently|yet|at the moment|at present)\b|"
                 r"unfortunately\b|we (?:do not|don't|cannot|can't|are not|aren't|no longer)\b|"
                 r"sorry\b)", re.I)
_YES = re.compile(r"(?:yes\b|yep\b|absolutely\b|of course\b|certainly\b|definitely\b)", re.I)

# "We do not treat X", "we no longer offer Y": a present-tense refusal (not "has not been
# treated", which describes a patient's history); "X is not offered", "not suitable for X".
_NOT_OFFERED = re.compile(
    r"(?:\bnot\b|n['’]t\b|\bnever\b|\bno longer\b|\bcannot\b|\bunable to\b)(?:\s+\w+){0,2}?\s+"
    r"(?:treat|treats|offer|offers|provide|provides|administer|administers|prescribe|prescribes|see|"
    r"sees|carry|carries|accept patients)\b"
    r"|\b(?:is|are)\s+not\s+(?:\w+\s+)?(?:offered|available|provided|treated)\b"
    r"|\bnot\s+(?:\w+\s+){0,2}?(?:recommended|suitable|appropriate|a candidate|candidates|eligible)\b"
    r"|\bcontraindicat\w*", re.I)
# "Spravato coming soon", "we plan to offer", "may be available": not offered yet.
_OFFER_PLANNED = re.compile(
    r"\bcoming soon\b|\bin the future\b"
    r"|\b(?:plans?|planning|hopes?|hoping)\s+to\s+(?:\w+\s+)?(?:offer|provide|add|begin|start)\b"
    r"|\b(?:will soon|may soon|may|might)\s+(?:be\s+)?(?:offer(?:ed|ing)?|add(?:ed|ing)?|provided|available)\b",
    re.I)


@dataclass
class Statement:
    segment: Segment
    sentence: str
    part: str  # the part of the sentence between ";", "but", "however", "except"...
    clause: str  # a clause of the part (an aside in brackets or dashes is a clause of its own)
    excepted: bool = False  # the part follows "except", "other than", "excluding"
    answer: str | None = None  # a question's answer: "yes", "no" or "" (unclear); None: not a question

    @property
    def bare_not(self):
        """'..., but not X', '(not X)': the part or clause denies what the sentence states."""
        return bool(_BARE_NOT.match(self.part) or _BARE_NOT.match(self.clause))

    @property
    def asked(self):
        """A question not answered 'yes' states nothing (it may deny: see `answer`)."""
        return self.answer is not None and self.answer != "yes"


def _split(text, splitter):
    """(piece, the splitter's first group at the boundary before it) for each piece of a text."""
    start, opened_by = 0, ""
    for match in splitter.finditer(text):
        piece = text[start:match.start()].strip(" ,")
        if piece:
            yield piece, opened_by
        opened_by = (match.group(1) or "").lower() if match.groups() else ""
        start = match.end()
    piece = text[start:].strip(" ,")
    if piece:
        yield piece, opened_by


def clauses(text, splitter):
    """(sentence, clause) for every clause of a text, split where `splitter` matches."""
    for sentence in sentences(text):
        for clause, _ in _split(sentence, splitter):
            yield sentence, clause


def _answer(following):
    if _NO.match(following):
        return "no"
    if _YES.match(following):
        return "yes"
    return ""


def statements(segs):
    """Every clause of the segments, in order, as a Statement."""
    flat = [(segment, sentence) for segment in segs for sentence in sentences(segment.text)]
    for index, (segment, sentence) in enumerate(flat):
        answer = None
        if sentence.rstrip().endswith("?"):
            answer = _answer(flat[index + 1][1]) if index + 1 < len(flat) else ""
        for part, opened_by in _split(sentence, _PART):
            excepted = opened_by.startswith(_EXCEPTIONS)
            for clause, _ in _split(part, _ASIDE):
                yield Statement(segment, sentence, part, clause, excepted, answer)


def denies_offer(statement):
    """The clause says the clinic does not treat or offer what it names (or its list's
    introduction says so, or it is a question answered 'no')."""
    listed_under_denial = statement.segment.tag == "li" and _NOT_OFFERED.search(statement.segment.context)
    return bool(statement.answer == "no" or statement.excepted or statement.bare_not
                or _NOT_OFFERED.search(statement.part) or listed_under_denial)


def offered(segs, vocabulary):
    """The vocabulary ids the page states the clinic treats or offers, in order of first mention.
    A mention in a denial ("we do not treat X", "..., but not X", "all ... except X", "not
    recommended for X", a question answered "no"), a plan ("coming soon", "we plan to offer X")
    or a question not answered "yes" does not count."""
    found = []
    for statement in statements(segs):
        if statement.asked or denies_offer(statement) or _OFFER_PLANNED.search(statement.part):
            continue
        found.extend(i for i in vocabulary.ids_in(statement.clause) if i not in found)
    return found
