"""Geocoding as a cached enrichment.

The default geocoder works offline: a geopy-compatible geocoder over the US ZIP-code table that
the `zipcodes` package bundles. It places a clinic at its ZIP centroid, or at its city's centroid
(the mean of the city's ZIP centroids) when only city and state are known, and says which.

`--geocoder nominatim` (or any geopy service name) asks that service for street-level positions,
through geopy's RateLimiter (one request a second) and a persistent cache in `data/`, so that no
address is ever looked up twice. Whatever the online service cannot place falls back to the
offline geocoder.
"""

import functools
import json
import statistics
from collections import defaultdict

import zipcodes
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from kad import DATA
from kad.normalise import city_key

USER_AGENT = "KetamineAccessDirectory/0.1 (open data build; data@ketamine-access-directory.org)"
CACHE_PATH = DATA / "geocode_cache.jsonl"

# (south, north, west, east) boxes: the contiguous states, Alaska (both sides of the
# antimeridian) and Hawaii. A point outside all of them is not a US clinic location.
US_BOXES = (
    (24.3, 49.5, -125.0, -66.8),
    (51.0, 71.5, -180.0, -129.9),
    (51.0, 53.0, 172.0, 180.0),
    (18.8, 22.4, -160.4, -154.7),
)


def in_us(latitude, longitude):
    return any(s <= latitude <= n and w <= longitude <= e for s, n, w, e in US_BOXES)


def zip_table():
    """Active ZIP codes with coordinates, as rows for the `zip_codes` table."""
    for entry in zipcodes.list_all():
        if entry["active"] and entry["lat"] and entry["long"]:
            yield {
                "zip": entry["zip_code"],
                "city": entry["city"],
                "state": entry["state"],
                "latitude": float(entry["lat"]),
                "longitude": float(entry["long"]),
            }


class ZipCentroidGeocoder(Geocoder):
    """Offline, geopy-compatible. Queries are geopy's structured dicts
    (`postalcode`, `city`, `state`); `raw["precision"]` says how the point was found."""

    def __init__(self):
        super().__init__()
        self._zips = {}
        cities = defaultdict(list)
        for entry in zipcodes.list_all():
            if not (entry["active"] and entry["lat"] and entry["long"]):
                continue
            point = (float(entry["lat"]), float(entry["long"]))
            self._zips[entry["zip_code"]] = (entry, point)
            for city in {entry["city"], *entry["acceptable_cities"]}:
                cities[(city_key(city), entry["state"])].append(point)
        self._cities = {
            key: (statistics.fmean(p[0] for p in points), statistics.fmean(p[1] for p in points))
            for key, points in cities.items()
        }

    def geocode(self, query, exactly_one=True, **kwargs):
        code = query.get("postalcode")
        if code in self._zips:
            entry, point = self._zips[code]
            address = f"{entry['city']}, {entry['state']} {code}"
            return Location(address, point, {"precision": "zip_centroid", "zip": code})
        city, state = query.get("city"), query.get("state")
        if city and state and (city_key(city), state) in self._cities:
            point = self._cities[(city_key(city), state)]
            return Location(f"{city}, {state}", point, {"precision": "city_centroid"})
        return None


class CachedOnlineGeocoder:
    """A geopy service behind RateLimiter and a JSON-lines cache keyed by the query."""

    def __init__(self, service, cache_path=CACHE_PATH, min_delay_seconds=1.0):
        self.service = service
        self.cache_path = cache_path
        self.cache = {}
        if cache_path.exists():
            for line in cache_path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                self.cache[(entry["service"], entry["query"])] = entry["result"]
        geocoder = get_geocoder_for_service(service)(user_agent=USER_AGENT, timeout=10)
        self._geocode = RateLimiter(geocoder.geocode, min_delay_seconds=min_delay_seconds,
                                    max_retries=2, error_wait_seconds=5, swallow_exceptions=True)
        self.lookups = 0

    def street_point(self, street, city, state, postal_code):
        query = ", ".join(p for p in (street, city, f"{state} {postal_code or ''}".strip()) if p)
        key = (self.service, query)
        if key not in self.cache:
            self.lookups += 1
            location = self._geocode(query, country_codes="us") if self.service == "nominatim" \
                else self._geocode(query)
            result = [location.latitude, location.longitude] if location else None
            self.cache[key] = result
            with self.cache_path.open("a", encoding="utf-8") as cache_file:
                cache_file.write(json.dumps({"service": self.service, "query": query,
                                             "result": result}) + "\n")
        return self.cache[key]


class ClinicGeocoder:
    """Places a clinic record: coordinates from its source, else street (online), else ZIP or
    city centroid. Returns (latitude, longitude, precision) or (None, None, None)."""

    def __init__(self, service=None):
        self.offline = ZipCentroidGeocoder()
        self.online = CachedOnlineGeocoder(service) if service else None
        # Many clinics share a ZIP code or a city: each centroid is looked up once.
        self._centroid = functools.lru_cache(maxsize=1 << 16)(self._centroid_of)

    def place(self, record):
        if record.get("latitude") is not None and record.get("longitude") is not None:
            return record["latitude"], record["longitude"], "source"
        if self.online and record.get("street") and (record.get("postal_code") or record.get("city")):
            point = self.online.street_point(record["street"], record.get("city"),
                                             record["state"], record.get("postal_code"))
            if point and in_us(*point):
                return point[0], point[1], "street"
        return self._centroid(record.get("postal_code"), record.get("city"), record.get("state"))

    def _centroid_of(self, postal_code, city, state):
        location = self.offline.geocode({"postalcode": postal_code, "city": city, "state": state})
        if location is None:
            return None, None, None
        return location.latitude, location.longitude, location.raw["precision"]
