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

# Per region, in one sort: how many values, their median (the middle value, or the mean of the
# two middle values, as statistics.median), lowest, highest, and oldest and newest retrieved_at.
_SUMMARY = """
    with ranked as (
      select region, value, retrieved_at, row_number() over byvalue as position,
             count(*) over (byvalue rows between unbounded preceding and unbounded following) as total
      from ({values})
      window byvalue as (partition by region order by value)
    )
    select region, count(*) as clinics,
           avg(case when position in ((total + 1) / 2, (total + 2) / 2) then value end) as median,
           min(value) as low, max(value) as high, min(retrieved_at) as oldest, max(retrieved_at) as newest
    from ranked group by region"""


def _by_region(where, value):
    """Rows (region, value, retrieved_at) for each state and again for the nation."""
    rows = f"select {{region}} as region, {value} as value, nullif(retrieved_at, '') as retrieved_at from clinics where {where}"
    return f"{rows.format(region='state')} union all {rows.format(region=repr(NATIONAL))}"


def write_price_stats(db):
    db["price_stats"].create(COLUMNS, pk=("region", "price"))
    for column in PRICE_COLUMNS:
        values = _by_region(f"typeof({column}) in ('integer', 'real') and coalesce(reported_closed, 0) = 0", column)
        db.execute(f"""
            insert into price_stats (region, price, clinics, median_usd, min_usd, max_usd, oldest_retrieved_at,
                                     newest_retrieved_at)
            select region, :price, clinics, median, low, high, oldest, newest
            from ({_SUMMARY.format(values=values)})""", {"price": column})
    counts = _by_region("typeof(price_series_usd) in ('integer', 'real') and coalesce(reported_closed, 0) = 0 "
                        "and typeof(series_count) in ('integer', 'real') and series_count != 0", "series_count")
    db.execute(f"""
        update price_stats set median_series_count = series.median
        from ({_SUMMARY.format(values=counts)}) series
        where price_stats.price = 'price_series_usd' and series.region = price_stats.region""")
    db.conn.commit()
