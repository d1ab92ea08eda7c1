"""Structured data: the schema.org nodes of a page (JSON-LD and microdata, through extruct) and
the clinic places they describe, including ``@graph``, top-level lists, locations nested under an
organisation, and nodes whose ``address`` is a list (one place per address)."""

import re
from dataclasses import dataclass, replace

import extruct
from w3lib.html import get_base_url

from kad import normalise

from crawlers.extract.text import parse_address

CLINIC_TYPES = {
    "MedicalClinic", "MedicalBusiness", "MedicalOrganization", "LocalBusiness",
    "HealthAndBeautyBusiness", "Hospital", "MedicalSpa", "DaySpa", "ProfessionalService",
}
# Tried in order; the first tier with nodes wins, so a team page's Physician nodes or a site's
# generic Organization do not become clinics when a MedicalClinic is described.
TYPE_TIERS = (CLINIC_TYPES, {"Physician"}, {"Organization", "Corporation", "NGO"})
# Keys under which a clinic node may hold further clinic nodes (its locations).
NESTING_KEYS = ("@graph", "location", "department", "subOrganization", "hasPart",
                "itemListElement", "item", "mainEntity", "containsPlace")


def schema_types(node):
    types = node.get("@type") or []
    if isinstance(types, str):
        types = [types]
    return {re.split(r"[/#]", str(t))[-1] for t in types}


def _first(value):
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def _text(value):
    value = _first(value)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return normalise.clean_text(value) if isinstance(value, (str, int, float)) else None


@dataclass
class Place:
    """One clinic location (or the organisation, when it has no address)."""

    name: str | None = None
    operator: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    website: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def has_address(self):
        return bool(self.street or self.postal_code or (self.city and self.state))

    def address_key(self):
        """The same address written two ways ('Suite 4' / 'Ste 4', ZIP+4) gives one key."""
        zip5 = (self.postal_code or "")[:5]
        return normalise.address_key(self.street, zip5) or (
            (self.street or "").lower(), zip5, (self.city or "").lower())


def structured_items(response):
    """The JSON-LD and microdata items of a page (extruct, uniform), one broken block skipped."""
    html = response.text
    base_url = get_base_url(html, response.url)
    found = []
    for syntax in ("json-ld", "microdata"):
        try:
            data = extruct.extract(html, base_url=base_url, syntaxes=[syntax], uniform=True)
        except Exception:  # one broken script must not hide the rest of the page
            continue
        found.extend(data.get(syntax) or [])
    return found


def _walk(node, parent, out):
    """Collect (node, nearest clinic-like ancestor) pairs for every typed node."""
    if isinstance(node, list):
        for child in node:
            _walk(child, parent, out)
        return
    if not isinstance(node, dict):
        return
    typed = bool(schema_types(node) & set().union(*TYPE_TIERS))
    if typed:
        out.append((node, parent))
    for key in NESTING_KEYS:
        if key in node:
            _walk(node[key], node if typed else parent, out)


def _addresses(node):
    """Every address of a node: `address` may be one PostalAddress (or text) or a list of them."""
    address = node.get("address")
    return [a for a in (address if isinstance(address, list) else [address]) if a is not None]


def _address(address, place):
    address = _first(address)
    if isinstance(address, str):
        parsed = parse_address(address)
        if parsed:
            place.street, place.city, place.state, place.postal_code = parsed
        return
    if not isinstance(address, dict):
        return
    place.street = _text(address.get("streetAddress"))
    place.city = _text(address.get("addressLocality"))
    place.state = _text(address.get("addressRegion"))
    place.postal_code = _text(address.get("postalCode"))
    place.country = _text(address.get("addressCountry"))
    region_zip = re.fullmatch(r"(.+?),?\s+(\d{5}(?:-\d{4})?)", place.state or "")
    if region_zip:  # "TX 78701" in addressRegion
        place.state = region_zip.group(1)
        place.postal_code = place.postal_code or region_zip.group(2)


def _geo(node, place):
    geo = _first(node.get("geo")) or node
    if isinstance(geo, dict):
        place.latitude = _number(geo.get("latitude"))
        place.longitude = _number(geo.get("longitude"))


def _number(value):
    value = _first(value)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _places(node, parent):
    """The places a node describes: one per address (one without an address when it has none).
    The name, phone, website and operator are the node's; coordinates only go with a single
    address, since a node gives one `geo` for all of them."""
    phone = _text(node.get("telephone"))
    place = Place(
        name=_text(node.get("name")) or _text(node.get("legalName")),
        phone=phone[4:] if phone and phone.lower().startswith("tel:") else phone,
        website=_text(node.get("url")),
    )
    parent_org = _text(node.get("parentOrganization"))
    parent_name = _text(parent.get("name")) if parent else None
    operator = parent_org or parent_name
    if operator and operator != place.name:
        place.operator = operator
    addresses = _addresses(node)
    if len(addresses) <= 1:
        _address(addresses[0] if addresses else None, place)
        _geo(node, place)
        return [place]
    places = []
    for address in addresses:
        located = replace(place)
        _address(address, located)
        places.append(located)
    return places


US_COUNTRIES = {"", "us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"}


def structured_places(response):
    """(locations, organisation): clinic places with an address, one per location, and the
    first clinic-like node without one (the site's organisation), or None."""
    pairs = []
    for item in structured_items(response):
        _walk(item, None, pairs)
    for tier in TYPE_TIERS:
        in_tier = [(node, parent) for node, parent in pairs if schema_types(node) & tier]
        if in_tier:
            break
    else:
        return [], None
    places = [(node, parent, place) for node, parent in in_tier for place in _places(node, parent)]
    # A parent whose children carry addresses is the operator, not a location itself.
    parents_of_located = {id(parent) for _, parent, place in places if parent and place.has_address}
    locations, seen = [], set()
    for node, _, place in places:
        if not place.has_address or id(node) in parents_of_located:
            continue
        if (place.country or "").lower() not in US_COUNTRIES or place.address_key() in seen:
            continue
        seen.add(place.address_key())
        locations.append(place)
    organisation = next((place for _, _, place in places if not place.has_address), None)
    if organisation is None and places:
        organisation = places[0][2]
    return locations, organisation

