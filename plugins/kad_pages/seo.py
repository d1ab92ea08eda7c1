"""What search engines and shared links read: each page's canonical address, its description and
Open Graph tags, schema.org JSON-LD on clinic pages, and /sitemap.xml. /robots.txt is served by
datasette-block-robots (configured in metadata.yml); `robots_lines` adds the sitemap to it.

Addresses are absolute: under the `public_url` setting of this plugin in metadata.yml (filled
from the KAD_PUBLIC_URL environment variable) when it is set, else from the request.
"""

from xml.etree import ElementTree

from .common import Links, database, fetch

PLUGIN = "kad-pages"
SITE_NAME = "Ketamine Access Directory"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# A position is stated as a place only when a source gave it, never for a ZIP or city centre.
EXACT_PRECISIONS = {"source", "street"}
ADDRESS_PARTS = (("street", "streetAddress"), ("city", "addressLocality"), ("state", "addressRegion"),
                 ("postal_code", "postalCode"))


def absolute(datasette, request, path):
    base = (datasette.plugin_config(PLUGIN) or {}).get("public_url")
    if base:
        return base.rstrip("/") + path
    return datasette.absolute_url(request, path)


def head(datasette, request, page):
    """The tags of a page's <head> (canonical, description, robots, Open Graph, JSON-LD)."""
    if page["page"] in ("not_found", "error"):
        return {"robots": "noindex"}
    canonical = absolute(datasette, request, page["links"].get("canonical") or page["links"]["page"])
    title = page["title"]
    if page["page"] == "clinic":
        place = ", ".join(p for p in (page["clinic"]["city"], page["clinic"]["state"]) if p)
        title = f"{title} — {place}" if place else title
    return {
        "canonical": canonical,
        "description": page["description"],
        # results for one visitor's search: worth following, not worth listing
        "robots": "noindex, follow" if page["page"] == "search" and page["searched"] else None,
        "open_graph": {"og:type": "website", "og:site_name": SITE_NAME, "og:title": title,
                       "og:description": page["description"], "og:url": canonical, "og:locale": "en_US"},
        "json_ld": medical_clinic(page, canonical) if page["page"] == "clinic" else None,
    }


def medical_clinic(page, url):
    """A schema.org MedicalClinic saying no more than the page does: a fact on which sources
    disagree is left out, a ZIP or city centre is not given as the clinic's position, and each
    insurer is a listing with the evidence it rests on, not a statement that the clinic is in
    the insurer's network."""
    clinic = page["clinic"]
    disputed = set(clinic["conflict_fields"])

    def stated(field, conflict_field=None):
        return clinic.get(field) if (conflict_field or field) not in disputed else None

    data = {"@context": "https://schema.org", "@type": "MedicalClinic", "@id": url + "#clinic",
            "name": clinic["name"], "mainEntityOfPage": url}
    address = {schema: stated(field) for field, schema in ADDRESS_PARTS if stated(field)}
    if address:
        data["address"] = {"@type": "PostalAddress", **address, "addressCountry": "US"}
    if stated("phone") and clinic["phone_tel"]:
        data["telephone"] = clinic["phone_tel"]
    if stated("website_link", "website"):
        data["url"] = clinic["website_link"]
    if (clinic["geocode_precision"] in EXACT_PRECISIONS and clinic["latitude"] is not None
            and not disputed & {"latitude", "longitude"}):
        data["geo"] = {"@type": "GeoCoordinates", "latitude": clinic["latitude"], "longitude": clinic["longitude"]}
    if page["npi"] and "npi" not in disputed:
        data["identifier"] = {"@type": "PropertyValue", "propertyID": "NPI", "value": page["npi"]}
    if clinic["treatments"]:
        data["availableService"] = [{"@type": "MedicalTherapy", "name": t["name"]} for t in clinic["treatments"]]
    if clinic["insurers"]:
        data["additionalProperty"] = [insurer_listing(i) for i in clinic["insurers"]]
    if clinic["reported_closed"]:
        data["description"] = "A source says this clinic has closed."
    return data


def insurer_listing(insurer):
    listing = {"@type": "PropertyValue", "propertyID": "insurer_listed", "name": "Insurer the clinic lists",
               "value": insurer["name"], "measurementTechnique": insurer["evidence"],
               "description": f"Listed {insurer['evidence_text']}"
                              + (f", read {insurer['retrieved_text']}" if insurer["retrieved_text"] else "")
                              + "; not confirmed with the insurer."}
    if insurer["source_link"]:
        listing["url"] = insurer["source_link"]
    return listing


async def sitemap(datasette, request):
    """The sitemap of the patient pages: home, the states and each state, the checklist, and
    every clinic (the sitemap protocol allows 50,000 addresses a file)."""
    db = database(datasette)
    links = Links(datasette, db)
    paths = [links.path("/"), links.path("/states"), links.path("/checklist")]
    paths += [links.path(f"/state/{r['code']}") for r in await fetch(db, "select code from states order by code")]
    paths += [links.clinic(r["id"]) for r in await fetch(db, "select id from clinics order by id")]
    root = ElementTree.Element("urlset", xmlns=SITEMAP_NS)
    for path in paths:
        ElementTree.SubElement(ElementTree.SubElement(root, "url"), "loc").text = absolute(datasette, request, path)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def robots_lines(datasette, request):
    return [f"Sitemap: {absolute(datasette, request, str(datasette.urls.path('/sitemap.xml')))}"]

