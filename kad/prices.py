"""Typical published prices, worked out once in the build: the `price_stats` table.

One row per region (a state's code, or `US` for the whole directory) and price column that at
least one open clinic there publishes: how many clinics publish it, the median, lowest and highest
price, and the oldest and newest `retrieved_at` of those clinics. The coverage checklist reads it
instead of scanning every clinic on each request. Closed clinics (`reported_closed = 1`) are left
out. `median_series_count` (price_series_usd rows only) is the median session count of the open
clinics in the region that state both a series price and a session count.
"""

PRICE_COLUMNS = ("price_initial_usd", "price_subsequent_usd", "price_series_usd", "price_consultation_usd")
NATIONAL = "US"
COLUMNS = {"region": str, "price": str, "clinics": int, "median_usd": float, "min_usd": float, "max_usd": float,
           "oldest_retrieved_at": str, "newest_retrieved_at": str, "median_series_count": float}

SERIES_COUNT = "series_count"  # the values of median_series_count, kept beside the prices


def write_price_stats(db):
    """Every open clinic's published prices (and, with a series price, its session count), once
    for its state and once for the nation, in one temporary table keyed by price, region and
    value: each region's count, range and dates are read in key order, and its median is found
    by position in the key (a few index steps per region), with no sort per price and region."""
    db["price_stats"].create(COLUMNS, pk=("region", "price"))
    db.execute("DROP TABLE IF EXISTS temp.price_values")
    db.execute("CREATE TEMP TABLE price_values (price, region, value, retrieved_at)")
    open_clinic = "coalesce(reported_closed, 0) = 0 AND typeof({column}) IN ('integer', 'real')"
    wheres = {**{column: open_clinic.format(column=column) for column in PRICE_COLUMNS},
              SERIES_COUNT: open_clinic.format(column="price_series_usd") + " AND typeof(series_count) IN "
                                                                            "('integer', 'real') AND series_count != 0"}
    db.execute("INSERT INTO price_values " + " UNION ALL ".join(
        f"SELECT '{column}', state, {column}, nullif(retrieved_at, '') FROM clinics WHERE {where}"
        for column, where in wheres.items()))
    db.execute(f"INSERT INTO price_values SELECT price, '{NATIONAL}', value, retrieved_at FROM price_values")
    db.execute("CREATE INDEX temp.price_values_order ON price_values (price, region, value, retrieved_at)")
    groups = db.execute("SELECT price, region, count(*), min(value), max(value), min(retrieved_at), max(retrieved_at) "
                        "FROM price_values GROUP BY price, region").fetchall()
    medians = {(price, region): _median(db, price, region, count) for price, region, count, *_ in groups}
    prices = sorted((group for group in groups if group[0] != SERIES_COUNT),
                    key=lambda group: (PRICE_COLUMNS.index(group[0]), group[1]))
    db.conn.executemany(
        "INSERT INTO price_stats (region, price, clinics, median_usd, min_usd, max_usd, oldest_retrieved_at, "
        "newest_retrieved_at, median_series_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((region, price, count, medians[price, region], low, high, oldest, newest,
          medians.get((SERIES_COUNT, region)) if price == "price_series_usd" else None)
         for price, region, count, low, high, oldest, newest in prices))
    db.execute("DROP TABLE temp.price_values")
    db.conn.commit()


def _median(db, price, region, count):
    """The middle value of a region's `count` values, or the mean of the two middle values (as
    statistics.median), read by position in price_values' key."""
    return db.execute("SELECT avg(value) FROM (SELECT value FROM price_values WHERE price = ? AND region = ? "
                      "ORDER BY value LIMIT ? OFFSET ?)", [price, region, 2 - count % 2, (count - 1) // 2]).fetchone()[0]
