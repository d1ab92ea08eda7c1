"""NormalisePipeline: state, phone, website, postal code and NPI through ``kad.normalise``.

A bad optional value becomes null and is counted (``pipeline/cleaned/phone_invalid``); a bad
state drops the record (``pipeline/dropped/invalid_state``), because a clinic placed in the
wrong state is worse than a missing one. A ZIP code in another state is nulled
(``pipeline/cleaned/postal_code_other_state``).
"""


from kad import normalise

from crawlers.pipelines import StatsPipeline

OPTIONAL = {
    "phone": normalise.phone,
    "website": normalise.website,
    "postal_code": normalise.postal_code,
    "npi": normalise.npi,
}


class NormalisePipeline(StatsPipeline):
    def process_item(self, item):
        try:
            state = normalise.state_code(item.get("state"))
        except ValueError as error:
            self.drop("invalid_state", item, str(error))
        if state != item.get("state"):
            item["state"] = state
            self.cleaned("state")
        for field, normaliser in OPTIONAL.items():
            raw = item.get(field)
            try:
                value = normaliser(raw)
            except ValueError:
                value = None
                self.cleaned(f"{field}_invalid")
            else:
                if value != raw:
                    self.cleaned(field)
            item[field] = value
        if item["postal_code"] and state:
            if normalise.zip_states().get(item["postal_code"], state) != state:
                item["postal_code"] = None
                self.cleaned("postal_code_other_state")
        sources = []
        for url in item.get("sources") or []:
            try:
                sources.append(normalise.website(url))
            except ValueError:
                self.cleaned("source_invalid")
        item["sources"] = list(dict.fromkeys(sources))
        return item
