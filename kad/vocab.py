"""The controlled vocabularies of docs/data-contract.md (treatments, conditions, insurers),
loaded from ``data/curated/`` and used to map free text to slugs.

Matching works on whole words, case-insensitively, longest phrase first, and never reads one
stretch of text twice: "treatment-resistant depression" gives ``treatment_resistant_depression``
only, and "Aetna Medicare Advantage" gives Aetna only (the plan-type phrase is consumed).
"""

import functools
import re

from kad import CURATED, load_yaml


def _words(text):
    return " ".join(re.findall(r"[a-z0-9&']+", text.lower().replace("’", "'")))


class Vocabulary:
    def __init__(self, entries, ignored=()):
        self.entries = {entry["id"]: entry for entry in entries}
        phrases = {}
        for entry in entries:
            for alias in [entry["name"], *entry.get("aliases", [])]:
                phrases.setdefault(_words(alias), entry["id"])
        for phrase in ignored:
            phrases.setdefault(_words(phrase), None)
        self._phrases = phrases
        alternatives = sorted(phrases, key=len, reverse=True)
        self._pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, alternatives)) + r")\b")
        # The same few names come in every record: each is read once.
        self._read_name = functools.lru_cache(maxsize=4096)(self._parts_and_ids)

    def ids_in(self, text):
        """Every vocabulary id named in the text, in order of first mention."""
        found = []
        for match in self._pattern.finditer(_words(text or "")):
            entry_id = self._phrases[match.group(0)]
            if entry_id and entry_id not in found:
                found.append(entry_id)
        return found

    def map_names(self, names):
        """Map free-text names (or ids) to ids; returns (ids, names that matched nothing).
        "Cigna/HealthPartners" names two insurers, so each part between slashes is read alone."""
        ids, unmapped = [], []
        for name in names:
            for part, matched in self._read_name(name):
                if not matched:
                    unmapped.append(part)
                ids.extend(i for i in matched if i not in ids)
        return ids, unmapped

    def _parts_and_ids(self, name):
        """(part, the ids it names) for each part of a name."""
        parts = [name] if name in self.entries else re.split(r"\s*/\s*", name)
        return tuple((part, (part,) if part in self.entries else tuple(self._exact(part) or self.ids_in(part)))
                     for part in parts)

    def _exact(self, name):
        """The common case, a whole name that is one alias, without scanning."""
        entry_id = self._phrases.get(_words(name))
        return [entry_id] if entry_id else []

    def name(self, entry_id):
        return self.entries[entry_id]["name"]


def _load(filename):
    return load_yaml((CURATED / filename).read_text(encoding="utf-8"))


@functools.cache
def treatments():
    return Vocabulary(_load("treatments.yml"))


@functools.cache
def conditions():
    return Vocabulary(_load("conditions.yml"))


@functools.cache
def insurers():
    data = _load("insurers.yml")
    return Vocabulary(data["insurers"], ignored=data["not_insurers"])
