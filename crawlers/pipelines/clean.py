"""CleanPipeline: whitespace and HTML entities in every string, empty strings to null, list
fields to de-duplicated lists of strings, and every contract key present."""

from kad.normalise import URL_FIELDS, clean_text

from crawlers.items import CLINIC_FIELDS, LIST_FIELDS, VOCAB_FIELDS, empty_value
from crawlers.pipelines import StatsPipeline


def clean_list(values, entities=True):
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    cleaned = []
    for value in values:
        text = clean_text(value, entities) if isinstance(value, str) else value
        if text is not None and text not in cleaned:
            cleaned.append(text)
    return cleaned


class CleanPipeline(StatsPipeline):
    def process_item(self, item):
        for key in CLINIC_FIELDS:
            if key not in item:
                item[key] = empty_value(key)
                self.cleaned("missing_key")
        for key, value in item.items():
            if key in LIST_FIELDS:
                new = clean_list(value, entities=key not in URL_FIELDS)
            elif key == "unmapped":
                value = value or {}
                new = {field: clean_list(value.get(field)) for field in VOCAB_FIELDS}
            elif isinstance(value, str):
                new = clean_text(value, entities=key not in URL_FIELDS)
            else:
                continue
            if new != value:
                item[key] = new
                self.cleaned(key)
        return item
