"""ValidatePipeline: the record must have a source id, a name, a state and at least one
source, or it is dropped with a counted reason (``pipeline/dropped/missing_name``...).
Coordinates must lie inside the United States (the contiguous states, Alaska including the
Aleutians west of 180 degrees, or Hawaii) or both are nulled
(``pipeline/cleaned/coordinates_outside_us``). Enumerated and typed fields that hold something
else are reset to their empty value and counted."""

from crawlers.items import INSURANCE_STATUSES
from crawlers.pipelines import StatsPipeline

# (south, north, west, east) in degrees
US_BOXES = (
    (24.3, 49.5, -125.0, -66.8),   # contiguous states and DC
    (51.0, 71.6, -180.0, -129.9),  # Alaska
    (51.0, 53.1, 172.0, 180.0),    # Aleutian Islands west of the antimeridian
    (18.8, 22.4, -160.4, -154.7),  # Hawaii
)
REQUIRED = ("name", "state", "source_id")
FLAGS = ("accepts_medicare", "accepts_medicaid", "accepts_tricare", "va_community_care",
         "spravato_rems_certified")
PRICES = ("price_initial_usd", "price_subsequent_usd", "price_series_usd", "price_consultation_usd")


def in_us(latitude, longitude):
    return any(s <= latitude <= n and w <= longitude <= e for s, n, w, e in US_BOXES)


def as_number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


class ValidatePipeline(StatsPipeline):
    def process_item(self, item):
        for field in REQUIRED:
            if not item.get(field):
                self.drop(f"missing_{field}", item)
        if not item.get("sources"):
            self.drop("missing_sources", item)
        self.check_coordinates(item)
        for field in ("ketamine_insurance", "spravato_insurance"):
            if item.get(field) not in INSURANCE_STATUSES:
                item[field] = "unknown"
                self.cleaned(f"{field}_invalid")
        for field in FLAGS:
            if item.get(field) not in (True, False, None):
                item[field] = None
                self.cleaned(f"{field}_invalid")
        for field in PRICES:
            if item.get(field) is not None:
                price = as_number(item[field])
                if price is None or price < 0:
                    self.cleaned(f"{field}_invalid")
                item[field] = price if price is not None and price >= 0 else None
        count = item.get("series_count")
        if count is not None and not (isinstance(count, int) and not isinstance(count, bool) and count > 0):
            item["series_count"] = None
            self.cleaned("series_count_invalid")
        return item

    def check_coordinates(self, item):
        latitude, longitude = item.get("latitude"), item.get("longitude")
        if latitude is None and longitude is None:
            return
        lat, lon = as_number(latitude), as_number(longitude)
        if lat is None or lon is None:
            reason = "coordinates_invalid"
        elif not in_us(lat, lon):
            reason = "coordinates_outside_us"
        else:
            item["latitude"], item["longitude"] = lat, lon
            return
        item["latitude"] = item["longitude"] = None
        self.cleaned(reason)
