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

# Median per group: the middle value, or the mean of the two middle values (as statistics.median).
_MEDIAN = """
    with ranked as (
      select region, value, row_number() over (partition by region order by value) as position,
             count(*) over (partition by region) as total
      from ({values})
    )
    select region, avg(value) as median from ranked
    where position in ((total + 1) / 2, (total + 2) / 2) group by region"""


def _by_region(where, value):
    """Rows (region, value, retrieved_at) for each state and again for the nation."""
    rows = f"select {{region}} as region, {value} as value, nullif(retrieved_at, '') as retrieved_at from clinics where {where}"
    return f"{rows.format(region='state')} union all {rows.format(region=repr(NATIONAL))}"


def write_price_stats(db):
    db["price_stats"].create(COLUMNS, pk=("region", "price"))
    for column in PRICE_COLUMNS:
        values = _by_region(f"typeof({column}) in ('integer', 'real') and coalesce(reported_closed, 0) = 0", column)
        series = "null"
        if column == "price_series_usd":
            counts = _by_region("typeof(price_series_usd) in ('integer', 'real') and coalesce(reported_closed, 0) = 0 "
                                "and typeof(series_count) in ('integer', 'real') and series_count != 0", "series_count")
            series = f"(select median from ({_MEDIAN.format(values=counts)}) counts where counts.region = stats.region)"
        db.execute(f"""
            insert into price_stats
            select stats.region, :price, stats.clinics, medians.median, stats.min_usd, stats.max_usd,
                   stats.oldest, stats.newest, {series}
            from (select region, count(*) as clinics, min(value) as min_usd, max(value) as max_usd,
                         min(retrieved_at) as oldest, max(retrieved_at) as newest
                  from ({values}) group by region) stats
            join ({_MEDIAN.format(values=values)}) medians on medians.region = stats.region""", {"price": column})
    db.conn.commit()
