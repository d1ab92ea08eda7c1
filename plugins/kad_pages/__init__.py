"""The patient-facing pages of the Ketamine Access Directory (issue 4).

plugins/patient_pages.py registers these with Datasette; the package itself is plain Python:
`words` (plain-language labels and the template filters that keep scraped text safe), `data`
(what each page shows, as JSON-ready dicts read from the database) and `views` (HTML and JSON
responses). Static files (stylesheet, map script) live in `static/` and are served by the plugin.
"""
