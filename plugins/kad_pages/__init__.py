"""The patient-facing pages of the Ketamine Access Directory.

plugins/patient_pages.py registers these with Datasette; the package itself is plain Python, one
module per page, each building the JSON-ready dict its template renders (and its `.json` twin
returns): `search`, `clinic`, `state` (/states and /state/XX) and `checklist`. What several pages
share: `common` (database, queries, addresses), `cards` (a clinic as lists show it), `laws` and
`policies` (rule and policy rows as pages show them), `words` (plain-language labels and the
template filters that keep scraped text safe). `views` turns the dicts into HTML or JSON
responses; static files (stylesheet, map script) live in `static/`.
"""
