"""Deterministic synthetic clinic records for benchmarks, shaped like a `clinic_site` feed line.

Every record says it is made up: its `name` begins with "Synthetic", it carries
`"synthetic": true`, its sources are on https://synthetic.example/ and its website on a host of its
own under synthetic.example (one site per clinic, as the build's site key expects), and its phone
number is in the fictional 555-01xx range. Records are spread over real ZIP codes from the
`zipcodes` package (so the offline geocoder places them at a ZIP centroid; a share gives only a
city, placed at the city centroid; a few carry their own coordinates), with treatments,
conditions and insurers drawn from the project's vocabularies. A share of records repeat an
earlier clinic's phone (same city) or street address (spelled differently) under another source,
so the build's merge step has work to do.

    write_feed(folder, 100_000, seed=0)  # -> folder/clinic_site.jsonl, never under data/

``write_payer_feed`` adds a payer directory (a `plan_net` feed) of synthetic listings: half name
the NPIs of the synthetic clinics (so the build's network step joins, agrees and disagrees), half
NPIs no clinic has; each line says it is synthetic and cites a page on https://synthetic.example/.
"""

import functools
import json
import random
from collections import deque
from pathlib import Path

import zipcodes

from kad import DATA, normalise, vocab
from kad.geocode import in_us

FEED_NAME = "clinic_site"
PAYER_FEED_NAME = "plan_net"
PAYER_LINES_PER_PAGE = 100  # listings read from one synthetic directory page (the address they cite)
RETRIEVED_AT = "2026-11-20T00:00:00+00:00"
SITE = "https://synthetic.example"

CITY_ONLY_SHARE = 0.10      # no street, no ZIP: placed at the city centroid
OWN_COORDINATES_SHARE = 0.05  # the source gives coordinates: precision "source"
PHONE_DUPLICATE_SHARE = 0.04  # same phone, same city, another listing: merged by phone
ADDRESS_DUPLICATE_SHARE = 0.04  # same street and ZIP, spelled differently: merged by address
NPI_SHARE = 0.05

_STREET_NAMES = ("Main", "Oak", "Cedar", "Elm", "Maple", "Park", "Lake", "Hill", "Washington",
                 "Lincoln", "Pine", "River", "Sunset", "Highland", "Meadow", "Church", "Mill",
                 "Spring", "Walnut", "Willow")
# (long, short) spellings that normalise.address_key treats as one.
_STREET_TYPES = (("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Boulevard", "Blvd"),
                 ("Drive", "Dr"), ("Parkway", "Pkwy"), ("Lane", "Ln"))
_NAME_WORDS = ("Harbor", "Summit", "Clarity", "Renewal", "Evergreen", "Northstar", "Lakeside",
               "Bridge", "Horizon", "Cornerstone", "Riverbend", "Aspen", "Beacon", "Meridian")
_NAME_KINDS = ("Ketamine Clinic", "Infusion Center", "Wellness", "Psychiatry", "Mental Health",
               "Pain Institute", "Spravato Center")
_PHONE_FORMATS = ("({a}) 555-{n}", "{a}-555-{n}", "{a}.555.{n}", "+1 {a} 555 {n}", "1{a}555{n}")
_INSURANCE = ("in_network", "case_by_case", "superbill", "not_covered", "unknown")
_FINANCING = ("CareCredit", "Advance Care Card", "Cherry", "Payment plan")
_CLINICIANS = ("anesthesiologist", "crna", "psychiatrist", "nurse_practitioner", "physician")


@functools.cache
def zip_pool():
    """Active ZIP codes in the 50 states and DC with a centroid inside the US boxes, in ZIP order
    (so a seed always gives the same clinics)."""
    pool = []
    for entry in zipcodes.list_all():
        if not (entry["active"] and entry["lat"] and entry["long"]):
            continue
        if entry["state"] not in normalise.JURISDICTIONS:
            continue
        lat, lon = float(entry["lat"]), float(entry["long"])
        if in_us(lat, lon):
            pool.append((entry["zip_code"], entry["city"], entry["state"], lat, lon))
    pool.sort()
    return tuple(pool)


@functools.cache
def area_codes():
    """Real area codes (from the ZIP table) that the build's own phone normaliser accepts with
    555-0100, so no synthetic phone is emptied as invalid (Canadian and territory codes are not)."""
    codes = sorted({code for entry in zipcodes.list_all() for code in entry["area_codes"]})
    return tuple(code for code in codes if _accepted_phone(f"({code}) 555-0100"))


def _accepted_phone(text):
    try:
        return normalise.phone(text) is not None
    except ValueError:
        return False


@functools.cache
def _vocabularies():
    treatments = sorted(vocab.treatments().entries)
    conditions = sorted(vocab.conditions().entries)
    insurers = vocab.insurers()
    # The canonical name, and the first alias as clinics spell it ("UHC", "BCBS of Illinois").
    insurer_names = sorted({n for e in insurers.entries.values()
                            for n in (e["name"], *e.get("aliases", [])[:2]) if n != "VA"})
    return treatments, conditions, insurer_names


def _phone(rng, area_code=None, number=None):
    area_code = area_code or rng.choice(area_codes())
    number = number if number is not None else rng.randrange(100, 200)
    return rng.choice(_PHONE_FORMATS).format(a=area_code, n=f"0{number}"), area_code, number


def _street(rng):
    name, (long, short) = rng.choice(_STREET_NAMES), rng.choice(_STREET_TYPES)
    suite = rng.randrange(1, 400) if rng.random() < 0.4 else None
    return {"number": rng.randrange(1, 10000), "name": name, "type": (long, short), "suite": suite}


def _street_text(street, spelling):
    """spelling 0: '1200 Main Street, Suite 4'; spelling 1: '1200 Main St Ste 4'."""
    text = f"{street['number']} {street['name']} {street['type'][spelling]}"
    if street["suite"]:
        text += (", Suite " if spelling == 0 else " Ste ") + str(street["suite"])
    return text


def _facts(rng):
    """The clinic-level facts: vocabulary terms, insurance, prices, clinicians."""
    treatments, conditions, insurer_names = _vocabularies()
    infusion = rng.randrange(300, 900, 25)
    has_price = rng.random() < 0.6
    series = rng.choice((6, 6, 6, 4, 8))
    return {
        "treatments": rng.sample(treatments, rng.randint(1, 3)),
        "conditions": rng.sample(conditions, rng.randint(0, 6)),
        "insurers": rng.sample(insurer_names, rng.choice((0, 0, 1, 2, 3, 5, 8))),
        "ketamine_insurance": rng.choice(_INSURANCE),
        "spravato_insurance": rng.choice(_INSURANCE),
        "accepts_medicare": rng.choice((None, True, False)),
        "accepts_medicaid": rng.choice((None, True, False)),
        "accepts_tricare": rng.choice((None, None, True, False)),
        "va_community_care": rng.choice((None, None, True, False)),
        "financing": rng.sample(_FINANCING, rng.randint(0, 2)),
        "price_initial_usd": infusion if has_price else None,
        "price_subsequent_usd": infusion - 50 if has_price and rng.random() < 0.5 else None,
        "price_series_usd": infusion * series - 200 if has_price and rng.random() < 0.4 else None,
        "series_count": series if has_price else None,
        "price_consultation_usd": rng.choice((None, None, 0, 150, 250)),
        "spravato_rems_certified": rng.choice((None, None, True)),
        "clinician_types": rng.sample(_CLINICIANS, rng.randint(0, 2)),
    }


def _record(index, seed, slug, name, place, street, phone, extra):
    record = {
        "source_id": f"site:synthetic-{seed}-{slug}",
        "name": name,
        "operator": None,
        "street": street,
        "city": place["city"],
        "state": place["state"],
        "postal_code": place["zip"],
        "phone": phone,
        "website": f"https://clinic-{seed}-{index}.synthetic.example/",
        "npi": None,
        "latitude": None,
        "longitude": None,
        "unmapped": {},
        "taxonomy": None,
        "sources": [f"{SITE}/{seed}/{slug}"],
        "retrieved_at": RETRIEVED_AT,
        "synthetic": True,
    }
    record.update(extra)
    return record


def records(count, seed=0):
    """Yield `count` synthetic feed records, the same ones for the same seed. Memory is flat:
    only a window of recent clinics is kept to copy duplicates from."""
    rng = random.Random(seed)
    pool = zip_pool()
    recent = deque(maxlen=2000)  # originals that duplicates may copy
    for index in range(count):
        roll = rng.random()
        base = recent[rng.randrange(len(recent))] if recent else None
        if base and roll < PHONE_DUPLICATE_SHARE and base["phone"]:
            # Another listing of the same clinic: same phone (another notation), same city.
            phone, _, _ = _phone(rng, base["area_code"], base["number"])
            place = dict(base["place"])
            street = _street_text(base["street"], rng.randrange(2)) if base["street"] and rng.random() < 0.5 else None
            yield _record(index, seed, f"{base['slug']}-listing-{index}", f"{base['name']} (listing {index})",
                          place, street, phone, _facts(rng))
            continue
        if base and roll < PHONE_DUPLICATE_SHARE + ADDRESS_DUPLICATE_SHARE and base["street"]:
            # The same street address spelled the other way, with no phone.
            street = _street_text(base["street"], 1 - base["spelling"])
            yield _record(index, seed, f"{base['slug']}-directory-{index}", f"{base['name']} Directory Entry",
                          dict(base["place"]), street, None, _facts(rng))
            continue
        zip_code, city, state, lat, lon = pool[rng.randrange(len(pool))]
        place = {"zip": zip_code, "city": city, "state": state}
        word, kind = rng.choice(_NAME_WORDS), rng.choice(_NAME_KINDS)
        name = f"Synthetic {word} {kind} {index}"
        slug = f"clinic-{index}"
        extra = _facts(rng)
        street = spelling = None
        if rng.random() < CITY_ONLY_SHARE:
            place["zip"] = None
        else:
            street, spelling = _street(rng), rng.randrange(2)
        if rng.random() < OWN_COORDINATES_SHARE:
            point = (round(lat + rng.uniform(-0.02, 0.02), 6), round(lon + rng.uniform(-0.02, 0.02), 6))
            if in_us(*point):
                extra["latitude"], extra["longitude"] = point
        if rng.random() < NPI_SHARE:
            body = f"{100_000_000 + seed * 1_000_003 % 800_000_000 + index:09d}"
            extra["npi"] = body + normalise.npi_check_digit(body)
        phone, area_code, number = _phone(rng) if rng.random() < 0.9 else (None, None, None)
        recent.append({"slug": slug, "name": name, "place": place, "street": street, "spelling": spelling,
                       "phone": phone, "area_code": area_code, "number": number})
        yield _record(index, seed, slug, name, place, _street_text(street, spelling) if street else None,
                      phone, extra)


def _refuse_data_folder(folder):
    folder = Path(folder).resolve()
    data = DATA.resolve()
    if folder == data or data in folder.parents:
        raise ValueError(f"synthetic records never go under {data} (docs/data-contract.md): {folder}")


def write_feed(folder, count, seed=0):
    """Write `count` synthetic records as folder/clinic_site.jsonl (streamed); returns the path."""
    _refuse_data_folder(folder)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{FEED_NAME}.jsonl"
    with path.open("w", encoding="utf-8") as feed:
        for record in records(count, seed):
            feed.write(json.dumps(record) + "\n")
    return path


def payer_records(count, clinic_count, seed=0):
    """Yield `count` synthetic payer-directory listings (plan_net feed lines) for the clinics of
    records(clinic_count, seed): even lines name a clinic's NPI in its state, odd lines an NPI no
    clinic has; every tenth listing is inactive. Holds only the clinics' NPIs."""
    rng = random.Random(seed + 1)
    clinics = [(r["npi"], r["state"], r["city"], r["postal_code"]) for r in records(clinic_count, seed) if r["npi"]]
    insurers = sorted(id_ for id_, entry in vocab.insurers().entries.items() if entry.get("kind") == "commercial")
    pool = zip_pool()
    for index in range(count):
        if index % 2 == 0 and clinics:
            npi, state, city, postal_code = clinics[index // 2 % len(clinics)]
        else:
            body = f"{900_000_000 + index:09d}"
            npi = body + normalise.npi_check_digit(body)
            postal_code, city, state, _, _ = pool[rng.randrange(len(pool))]
        insurer = insurers[index // PAYER_LINES_PER_PAGE % len(insurers)]  # one insurer per page
        page = f"{SITE}/fhir/{insurer}/OrganizationAffiliation?page={index // PAYER_LINES_PER_PAGE}"
        yield {"npi": npi, "insurer_id": insurer, "network": f"Synthetic {insurer} network", "plan_ids": ["SYN-0001"],
               "evidence": "payer_directory", "name": f"Synthetic listing {index}", "street": None, "city": city,
               "state": state, "postal_code": postal_code, "phone": None,
               "detail": {"active": index % 10 != 9}, "source_url": page, "sources": [page],
               "retrieved_at": RETRIEVED_AT, "synthetic": True}


def write_payer_feed(folder, count, clinic_count, seed=0):
    """Write `count` listings as folder/plan_net.jsonl (streamed); returns the path."""
    _refuse_data_folder(folder)
    path = Path(folder) / f"{PAYER_FEED_NAME}.jsonl"
    with path.open("w", encoding="utf-8") as feed:
        for record in payer_records(count, clinic_count, seed):
            feed.write(json.dumps(record) + "\n")
    return path
