"""plan_net: which NPIs a payer's own provider directory lists, at which location, in which network.

What it crawls: a payer's public FHIR R4 provider directory (HL7 Da Vinci PDex Plan-Net), named by
``-a payer=<id>`` from data/curated/payer_directories.yml, or given as ``-a base_url=<FHIR base>
-a insurer=<insurer id>`` (a mirror, a test server, a payer not listed yet). In order:

1. ``metadata`` (the CapabilityStatement): which search parameters the server supports. A search
   below is asked for only when the server lists its parameters (without a readable
   CapabilityStatement, those Plan-Net requires).
2. every ``InsurancePlan`` page, so that each network can be resolved to the plans that use it
   (``InsurancePlan.network`` and ``InsurancePlan.plan.network``).
3. the searches: ``Organization`` and ``HealthcareService`` by ``name`` (ketamine, esketamine,
   spravato); ``OrganizationAffiliation`` and ``PractitionerRole`` by ``specialty`` (the NUCC codes
   marked ``plan_net_search`` in data/curated/taxonomies.yml, or ``-a specialties=``);
   ``Location`` by ``address-state`` and ``name`` for each ``-a states=`` state where the server
   supports both; and, where the server supports ``identifier`` on Organization and Practitioner,
   each NPI of ``-a npis=`` (comma-separated) or ``-a npis_file=`` (JSON lines with an ``npi``).
   Every Organization, Practitioner, Location and HealthcareService found leads to the roles that
   place it in networks: ``OrganizationAffiliation?participating-organization=|location=|service=``
   and ``PractitionerRole?organization=|practitioner=|location=|service=``, each with ``_include``
   of its network, location, organisation and practitioner. Bundle ``next`` links are followed.

What it yields: one record per (NPI, location, network) (``crawlers.items.NETWORK_FIELDS``,
evidence ``payer_directory``): the NPI of the participating organisation (OrganizationAffiliation)
or practitioner (PractitionerRole), the network (the network Organization's name, its id and its
managing organisation in ``detail``), the plan ids of the InsurancePlans using that network,
accepting new patients when the role says so (Plan-Net ``newpatients`` extension), the location's
address and phone, the specialties, the Bundle page it was read from (``source_url``). With
``-a states=``, roles at locations in other states are skipped (counted).

How politely: robots.txt and the project's settings (one request at a time, about 1.5 s apart,
AutoThrottle). A 429 is waited out as its ``Retry-After`` says (seconds or an HTTP date, at most
``PLAN_NET_MAX_WAIT`` s, 60 by default; without the header, 30 s), then asked again, at most three
times; Scrapy retries 5xx twice. What still fails is a counted drop, never a stop: a request that
kept failing (``plan_net/dropped/http_<status>``), a page that is not a FHIR Bundle
(``/dropped/malformed_bundle``), a resource without resourceType or id (``/dropped/malformed_resource``),
a role whose organisation or practitioner has no NPI (``/dropped/no_npi``).

How often: monthly; payers must update their directories within 30 days of a change.

Stats: ``plan_net/requests``, ``/insurance_plans``, ``/resources``, ``/records``,
``/rate_limited``, ``/skipped/duplicate``, ``/skipped/other_state``, ``/skipped/unsupported_search``
and the drops above.
"""

import asyncio
import email.utils
import json
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import scrapy
import yaml
from scrapy.spidermiddlewares.httperror import HttpError

from kad import CURATED, vocab

from crawlers.items import NETWORK, new_record

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
NETWORK_EXTENSION = PLAN_NET + "network-reference"
NEW_PATIENTS_EXTENSION = PLAN_NET + "newpatients"
NAME_TERMS = ("ketamine", "esketamine", "spravato")
PAGE_COUNT = 100
MAX_429_TRIES = 3
DEFAULT_WAIT = 30
# The search parameters Plan-Net's CapabilityStatement requires, used when the server's own
# CapabilityStatement cannot be read.
PLAN_NET_PARAMETERS = {
    "Organization": {"name", "address", "partof", "type", "_id"},
    "HealthcareService": {"name", "specialty", "location", "organization", "_id"},
    "Location": {"address-state", "organization", "_id"},
    "OrganizationAffiliation": {"participating-organization", "location", "service", "network", "specialty", "_id"},
    "PractitionerRole": {"practitioner", "organization", "location", "service", "network", "specialty", "_id"},
    "Practitioner": {"name", "_id"},
    "InsurancePlan": {"name", "identifier", "_id"},
}
ROLE_INCLUDES = {
    "OrganizationAffiliation": ("OrganizationAffiliation:participating-organization",
                                "OrganizationAffiliation:location", "OrganizationAffiliation:network"),
    "PractitionerRole": ("PractitionerRole:practitioner", "PractitionerRole:organization",
                         "PractitionerRole:location", "PractitionerRole:network"),
}
# Which role searches a resource found by the other searches leads to.
ROLE_SEARCHES = {
    "Organization": (("OrganizationAffiliation", "participating-organization"), ("PractitionerRole", "organization")),
    "Practitioner": (("PractitionerRole", "practitioner"),),
    "Location": (("OrganizationAffiliation", "location"), ("PractitionerRole", "location")),
    "HealthcareService": (("OrganizationAffiliation", "service"), ("PractitionerRole", "service")),
}


def load_payers(path=CURATED / "payer_directories.yml"):
    return {entry["id"]: entry for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []}


def plan_net_specialties(path=CURATED / "taxonomies.yml"):
    """{NUCC code: entity} of the codes data/curated/taxonomies.yml marks for payer searches."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {t["code"]: t["entity"] for t in data["taxonomies"] if t.get("plan_net_search")}


def retry_after_seconds(value, now=None):
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    text = (value or b"").decode("latin-1").strip() if isinstance(value, bytes) else (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0, int(moment.timestamp() - (now or time.time())))


def npi_of(resource):
    for identifier in (resource or {}).get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == NPI_SYSTEM and identifier.get("value"):
            return str(identifier["value"]).strip()
    return None


def reference(value):
    """'Organization/1' from a Reference (absolute references keep their last two parts)."""
    text = (value or {}).get("reference") if isinstance(value, dict) else None
    if not isinstance(text, str) or "/" not in text:
        return None
    return "/".join(text.rstrip("/").split("/")[-2:])


def extensions(resource, url):
    return [e for e in (resource or {}).get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def codes(concepts, system=None):
    found = []
    for concept in concepts or []:
        for coding in (concept or {}).get("coding") or []:
            if coding.get("code") and (system is None or coding.get("system") == system):
                found.append(coding["code"])
    return found


def person_name(practitioner):
    for name in practitioner.get("name") or []:
        if name.get("text"):
            return name["text"]
        family, given = name.get("family"), " ".join(name.get("given") or [])
        if family or given:
            return ", ".join(p for p in (family, given) if p)
    return None


def accepting_new_patients(resource):
    for extension in extensions(resource, NEW_PATIENTS_EXTENSION):
        for part in extension.get("extension") or []:
            if part.get("url") == "acceptingPatients":
                found = codes([part.get("valueCodeableConcept")])
                if found:
                    return found[0]
    return None


def phone_of(*resources):
    for resource in resources:
        for telecom in (resource or {}).get("telecom") or []:
            if telecom.get("system") == "phone" and telecom.get("value"):
                return telecom["value"]
    return None


class PlanNetSpider(scrapy.Spider):
    name = "plan_net"
    item_kind = NETWORK
    # 429 reaches the callback (waited out there, as Retry-After says); 5xx stays Scrapy's to retry.
    custom_settings = {"RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408]}
    handle_httpstatus_list = [429]

    def __init__(self, payer=None, base_url=None, insurer=None, states=None, specialties=None,
                 npis=None, npis_file=None, count=None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if payer:
            entry = load_payers().get(payer)
            if entry is None:
                raise ValueError(f"-a payer={payer}: not in data/curated/payer_directories.yml")
            if not entry.get("base_url"):
                raise ValueError(f"-a payer={payer}: no endpoint address has been read for it ({entry.get('note', '').strip()})")
            base_url, insurer = base_url or entry["base_url"], insurer or entry.get("insurer_id")
        if not base_url or not insurer:
            raise ValueError("give -a payer=<id of payer_directories.yml>, or -a base_url=<FHIR base> and -a insurer=<insurer id>")
        if insurer not in vocab.insurers().entries:
            raise ValueError(f"-a insurer={insurer}: not an id of data/curated/insurers.yml")
        self.base_url = base_url.rstrip("/")
        self.insurer = insurer
        self.allowed_domains = [urlsplit(self.base_url).hostname]
        self.states = {s.strip().upper() for s in states.split(",") if s.strip()} if states else set()
        self.specialties = ({c.strip(): "either" for c in specialties.split(",") if c.strip()}
                            if specialties else plan_net_specialties())
        self.npis = [n.strip() for n in npis.split(",") if n.strip()] if npis else []
        if npis_file:
            for line in Path(npis_file).read_text(encoding="utf-8").splitlines():
                if line.strip() and json.loads(line).get("npi"):
                    self.npis.append(str(json.loads(line)["npi"]))
        self.count_per_page = int(count) if count else PAGE_COUNT
        self.parameters = {}
        self.resources = {}  # "Type/id" -> resource, every resource read
        self.network_plans = {}  # "Organization/id" of a network -> [(plan id, plan name)]
        self.followed = set()  # resources whose roles were asked for
        self.seen = set()  # (npi, location, network) already yielded

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.max_wait = crawler.settings.getint("PLAN_NET_MAX_WAIT", 60)
        return spider

    def count(self, key, amount=1):
        if getattr(self, "crawler", None):
            self.crawler.stats.inc_value(f"plan_net/{key}", amount)

    # -- requests ----------------------------------------------------------------------------

    def url(self, path, params=()):
        return f"{self.base_url}/{path}" + ("?" + urlencode(list(params)) if params else "")

    def request(self, url, purpose, **extra):
        self.count("requests")
        return scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                              headers={"Accept": "application/fhir+json"},
                              cb_kwargs={"purpose": purpose, **extra})

    def search(self, resource_type, params, purpose="search"):
        """A search, if the server supports every parameter; otherwise None (counted)."""
        names = {name.split(":")[0] for name, _ in params if not name.startswith("_")}
        if not names <= self.parameters.get(resource_type, set()):
            self.count("skipped/unsupported_search")
            self.logger.info("%s search by %s is not supported by %s", resource_type, sorted(names), self.base_url)
            return None
        includes = [("_include", i) for i in ROLE_INCLUDES.get(resource_type, ())]
        return self.request(self.url(resource_type, [*params, *includes, ("_count", self.count_per_page)]), purpose)

    async def start(self):
        yield self.request(self.url("metadata"), "metadata")

    def searches(self):
        for term in NAME_TERMS:
            yield self.search("Organization", [("name", term)])
            yield self.search("HealthcareService", [("name", term)])
            for state in sorted(self.states):
                yield self.search("Location", [("address-state", state), ("name", term)])
        for code, entity in self.specialties.items():
            token = f"{NUCC_SYSTEM}|{code}"
            if entity in ("organisation", "either"):
                yield self.search("OrganizationAffiliation", [("specialty", token)])
            if entity in ("practitioner", "either"):
                yield self.search("PractitionerRole", [("specialty", token)])
        for npi in self.npis:
            for resource_type in ("Organization", "Practitioner"):
                yield self.search(resource_type, [("identifier", f"{NPI_SYSTEM}|{npi}")])

    # -- responses ---------------------------------------------------------------------------

    async def parse(self, response, purpose, tries=1):
        if response.status == 429:
            async for request in self.rate_limited(response, purpose, tries):
                yield request
            return
        for output in self.read(response, purpose):
            yield output

    async def rate_limited(self, response, purpose, tries):
        self.count("rate_limited")
        if tries >= MAX_429_TRIES:
            self.count("dropped/http_429")
            self.logger.warning("Still rate-limited after %d tries, left out: %s", tries, response.url)
            return
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        wait = min(DEFAULT_WAIT if wait is None else wait, self.max_wait)
        self.logger.info("429 from %s: waiting %d s as Retry-After asks", response.url, wait)
        await asyncio.sleep(wait)
        self.count("requests")
        yield response.request.replace(cb_kwargs={"purpose": purpose, "tries": tries + 1})

    def read(self, response, purpose):
        """Everything a response leads to (records and requests), synchronously."""
        try:
            data = json.loads(response.text)
        except ValueError:
            data = None
        if purpose == "metadata":
            yield from self.read_capabilities(data)
            return
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            self.count("dropped/malformed_bundle")
            self.logger.warning("Not a FHIR Bundle from %s: %r", response.url, response.text[:200])
            return
        matches = self.collect(data)
        next_url = next((link.get("url") for link in data.get("link") or []
                         if isinstance(link, dict) and link.get("relation") == "next" and link.get("url")), None)
        if purpose == "plans":
            self.read_plans(matches)
            if next_url:
                yield self.request(next_url, "plans")
            else:
                yield from filter(None, self.searches())
            return
        for resource in matches:
            kind = resource["resourceType"]
            if kind in ("OrganizationAffiliation", "PractitionerRole"):
                yield from self.records(resource, response.url)
            elif kind in ROLE_SEARCHES:
                yield from self.follow(resource)
        if next_url:
            yield self.request(next_url, purpose)

    def read_capabilities(self, data):
        rest = (data or {}).get("rest") if isinstance(data, dict) and data.get("resourceType") == "CapabilityStatement" else None
        if rest:
            for resource in rest[0].get("resource") or []:
                self.parameters[resource.get("type")] = {p.get("name") for p in resource.get("searchParam") or []}
        else:
            self.count("no_capability_statement")
            self.logger.warning("No CapabilityStatement at %s/metadata: assuming Plan-Net's required searches", self.base_url)
            self.parameters = {k: set(v) for k, v in PLAN_NET_PARAMETERS.items()}
        yield self.request(self.url("InsurancePlan", [("_count", self.count_per_page)]), "plans")

    def collect(self, bundle):
        """Remember every well-formed resource of the Bundle; return the search matches."""
        matches = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not (isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)
                    and isinstance(resource.get("id"), str) and resource["id"]):
                self.count("dropped/malformed_resource")
                continue
            self.count("resources")
            self.resources[f"{resource['resourceType']}/{resource['id']}"] = resource
            if ((entry.get("search") or {}).get("mode") or "match") == "match":
                matches.append(resource)
        return matches

    def read_plans(self, plans):
        for plan in plans:
            if plan["resourceType"] != "InsurancePlan":
                continue
            self.count("insurance_plans")
            plan_id = next((i.get("value") for i in plan.get("identifier") or [] if i.get("value")), plan["id"])
            networks = [reference(n) for n in plan.get("network") or []]
            networks += [reference(n) for p in plan.get("plan") or [] for n in p.get("network") or []]
            for network in dict.fromkeys(filter(None, networks)):
                self.network_plans.setdefault(network, []).append((plan_id, plan.get("name")))

    def follow(self, resource):
        key = f"{resource['resourceType']}/{resource['id']}"
        if key in self.followed:
            return
        self.followed.add(key)
        for role_type, parameter in ROLE_SEARCHES[resource["resourceType"]]:
            request = self.search(role_type, [(parameter, key)])
            if request:
                yield request

    # -- records -----------------------------------------------------------------------------

    def records(self, role, source_url):
        if role["resourceType"] == "OrganizationAffiliation":
            provider = self.resources.get(reference(role.get("participatingOrganization")))
            networks = [reference(n) for n in role.get("network") or []]
            name = (provider or {}).get("name")
        else:
            provider = self.resources.get(reference(role.get("practitioner")))
            networks = [reference(e.get("valueReference")) for e in extensions(role, NETWORK_EXTENSION)]
            name = person_name(provider or {})
        npi = npi_of(provider)
        if not npi:
            self.count("dropped/no_npi")
            self.logger.info("No NPI for %s/%s in %s", role["resourceType"], role["id"], source_url)
            return
        locations = [reference(loc) for loc in role.get("location") or []] or [None]
        for location_key in locations:
            location = self.resources.get(location_key) or {}
            address = location.get("address") or {}
            state = address.get("state")
            if self.states and (state or "").upper() not in self.states:
                self.count("skipped/other_state")
                continue
            for network_key in [n for n in networks if n] or [None]:
                if (npi, location_key, network_key) in self.seen:
                    self.count("skipped/duplicate")
                    continue
                self.seen.add((npi, location_key, network_key))
                network = self.resources.get(network_key) or {}
                plans = self.network_plans.get(network_key, [])
                self.count("records")
                yield new_record(
                    NETWORK, npi=npi, insurer_id=self.insurer, network=network.get("name"),
                    plan_ids=[plan_id for plan_id, _ in plans], evidence="payer_directory", name=name,
                    street=" ".join(address.get("line") or []) or None, city=address.get("city"), state=state,
                    postal_code=address.get("postalCode"), phone=phone_of(location, role),
                    detail={
                        "resource": f"{role['resourceType']}/{role['id']}",
                        "location": location_key,
                        "network_id": network_key,
                        "network_managed_by": (network.get("partOf") or {}).get("display")
                        or reference(network.get("partOf")),
                        "plans": [{"id": plan_id, "name": plan_name} for plan_id, plan_name in plans],
                        "specialties": codes(role.get("specialty")),
                        "accepting_new_patients": accepting_new_patients(role) or accepting_new_patients(location),
                        "active": role.get("active"),
                    },
                    source_url=source_url, sources=[source_url],
                )

    def failed(self, failure):
        if failure.check(HttpError):
            status = failure.value.response.status
            self.count(f"dropped/http_{status}")
            self.logger.warning("HTTP %s, left out: %s", status, failure.request.url)
        else:
            self.count(f"dropped/{type(failure.value).__name__}")
            self.logger.warning("%s, left out: %s", type(failure.value).__name__, failure.request.url)
        if failure.request.cb_kwargs.get("purpose") in ("metadata", "plans"):
            # Without the capability statement or every plan, the searches still run.
            if failure.request.cb_kwargs["purpose"] == "metadata":
                yield from self.read_capabilities(None)
            else:
                yield from filter(None, self.searches())
