"""Prices a clinic states, each only with words that say what it pays for (initial or additional
infusion, series, consultation), within sane limits; ranges, deposits, discounts and other
services' prices are left out."""

import re

from crawlers.extract.statements import clauses

_PRICE_CLAUSE = re.compile(r";|,?\s\bbut\b|,?\s\bhowever\b", re.I)  # "Initial infusion - $550" stays whole

_PRICE = re.compile(
    r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?!\d)(?!,\d)(?:\.(\d{2}))?(?!\d)(?!\.\d)"
    r"(?!\s*(?:[-–]|to)\s*\$?\d)")
_RANGE_END = re.compile(r"\d\s*(?:[-–]|to)\s*$")  # the "$600" of "$400 - $600"
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_COUNT = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_PRICE_KEYWORDS = (  # (category, pattern); earlier patterns consume their words first
    ("consultation", re.compile(
        r"\b(?:initial |new patient |medical |psychiatric )?(?:consult\w*|evaluations?|assessments?|"
        r"intake|screenings?)\b", re.I)),
    ("series", re.compile(
        rf"\b(?:series|package|bundle|course)\b|\bset of\b|\b{_COUNT}[- ](?:ketamine |iv )?"
        r"(?:infusions|treatments|sessions)\b", re.I)),
    ("subsequent", re.compile(
        r"\b(?:additional|subsequent|booster|maintenance|follow[- ]?up|thereafter|repeat|"
        r"top[- ]?up)\b", re.I)),
    ("initial", re.compile(r"\b(?:initial|first|single|one[- ]time)\b", re.I)),
    ("generic", re.compile(r"\b(?:infusions?|treatments?|sessions?)\b", re.I)),
)
_PRICE_SKIP = re.compile(
    r"\b(?:spravato|esketamine|deposit|cancell?\w*|no[- ]show|missed|late|gift|discounts?|save|"
    r"savings|off|membership|month|monthly|per month|copays?|co-pays?|deductibles?|nad\+?|"
    r"vitamins?|hydration|tms|lab|labs|ekg|refund\w*)\b", re.I)
_FREE_CONSULTATION = re.compile(
    r"\b(?:free|complimentary|no[- ]cost|no[- ]charge)\s+(?:\w+\s+){0,2}consult", re.I)
_SERIES_COUNT = re.compile(
    rf"\bseries of {_COUNT}\b|\b{_COUNT}[- ](?:ketamine |iv )?(?:infusions|treatments|sessions)\b"
    rf"|\b{_COUNT}[- ](?:infusion|treatment|session) (?:series|package)\b", re.I)
PRICE_LIMITS = {
    "price_consultation_usd": (0, 1500),
    "price_initial_usd": (50, 5000),
    "price_subsequent_usd": (50, 5000),
    "price_series_usd": (150, 30000),
}
CATEGORY_FIELD = {
    "consultation": "price_consultation_usd",
    "series": "price_series_usd",
    "subsequent": "price_subsequent_usd",
    "initial": "price_initial_usd",
    "generic": "price_initial_usd",
}


def _price_category(before, after):
    """The best category for a price from the labels around it: the nearest keyword wins,
    words before the price count more than words after it, and a generic word ('infusion')
    only when no specific word is there."""
    best = {}
    for label, text, weight, offset in (("before", before, 1, 0), ("after", after, 2, 10)):
        masked = text
        for category, pattern in _PRICE_KEYWORDS:
            for match in pattern.finditer(masked):
                gap = len(text) - match.end() if label == "before" else match.start()
                score = gap * weight + offset
                best[category] = min(best.get(category, score), score)
            masked = pattern.sub(lambda m: " " * len(m.group(0)), masked)
    specific = {k: v for k, v in best.items() if k != "generic"}
    pool = specific or best
    return min(pool, key=pool.get) if pool else None


def _series_count(text):
    match = _SERIES_COUNT.search(text)
    if not match:
        return None
    word = next(g for g in match.groups() if g)
    count = int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]
    return count if 2 <= count <= 20 else None


def price_facts(segs):
    """{field: amount} for the prices the text labels, plus series_count."""
    found = {}
    previous = ""
    for segment in segs:
        for _, clause in clauses(segment.text, _PRICE_CLAUSE):
            matches = list(_PRICE.finditer(clause))
            for index, match in enumerate(matches):
                start = matches[index - 1].end() if index else 0
                end = matches[index + 1].start() if index + 1 < len(matches) else len(clause)
                before, after = clause[start:match.start()], clause[match.end():end]
                if _RANGE_END.search(before):
                    continue
                if len(before.strip(" :|-")) < 3 and start == 0:
                    before = previous + " " + before  # "$450" in a cell after its label
                # "(save $300)" after a package price is about the saving, not the package
                if _PRICE_SKIP.search(before[-40:] + " " + after.split("(")[0][:25]):
                    continue
                window = before[-70:] + " " + after[:50]
                category = _price_category(before[-70:], after[:50])
                if category is None:
                    continue
                amount = int(match.group(1).replace(",", "")) + int(match.group(2) or 0) / 100
                amount = int(amount) if float(amount).is_integer() else amount
                name = CATEGORY_FIELD[category]
                low, high = PRICE_LIMITS[name]
                if not low <= amount <= high or name in found:
                    continue
                found[name] = amount
                if category == "series" and "series_count" not in found:
                    count = _series_count(window)
                    if count:
                        found["series_count"] = count
        if _FREE_CONSULTATION.search(segment.text) and "price_consultation_usd" not in found:
            found["price_consultation_usd"] = 0
        previous = segment.text
    return found

