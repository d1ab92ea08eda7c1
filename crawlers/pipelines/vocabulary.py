"""VocabularyPipeline: free-text treatment, condition and insurer names to the ids of the
controlled vocabularies (``kad.vocab``). Ids pass through unchanged. A name that matches
nothing is kept in ``unmapped[field]`` and counted (``vocab/unmapped/<field>``), never dropped;
``vocab/mapped/<field>`` counts the ids."""

from kad import vocab

from crawlers.items import VOCAB_FIELDS
from crawlers.pipelines import StatsPipeline

VOCABULARIES = {
    "treatments": vocab.treatments,
    "conditions": vocab.conditions,
    "insurers": vocab.insurers,
}


class VocabularyPipeline(StatsPipeline):
    def process_item(self, item):
        unmapped = item.get("unmapped") or {}
        for field in VOCAB_FIELDS:
            ids, names = VOCABULARIES[field]().map_names(item.get(field) or [])
            item[field] = ids
            leftover = list(unmapped.get(field) or [])
            leftover.extend(name for name in names if name not in leftover)
            unmapped[field] = leftover
            if ids:
                self.count(f"vocab/mapped/{field}", len(ids))
            if names:
                self.count(f"vocab/unmapped/{field}", len(names))
        item["unmapped"] = unmapped
        return item
