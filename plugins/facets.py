"""Facets that stay fast at 100,000 clinics and never vanish silently (issue 13).

Datasette 0.65's array facet unpacks every row's JSON and de-duplicates over every column of
every row (temporary B-trees of about 1.5 GB per request at 100,000 clinics), so it timed out and
its facet disappeared. This plugin keeps Datasette's facets and their JSON, and changes four
things:

- An array column that metadata.yml links to a table (the table's `plugins: link_facets:`, e.g.
  clinics.insurers -> clinic_insurers) is counted through that table's index, over the link rows
  its `where` keeps (clinic_insurers also holds insurers whose own data lists a clinic that does
  not name them: those are not in the array). The build writes each link table from its array, so
  the counts are the same (tests compare them with Datasette's own).
- No facet suggestions on a table whose facets metadata.yml already chooses: there they cost a
  query per column on every page and only repeat or second-guess the chosen facets.
- A facet that runs out of time stays in the JSON's `facet_results` with `"timed_out": true` and
  no values (Datasette lists it only on the HTML page, under "These facets timed out").
- On an immutable database (as `make serve` serves it) a facet query's answer cannot change while
  the server runs, so each server process remembers the answers of its last MEMO_SIZE facet
  queries (short ones only, so memory stays small): a repeated page (the unfiltered clinics page
  above all) does not count again.
"""

import asyncio
import copy
import functools
import json
import weakref
from collections import OrderedDict

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

PLUGIN = "link_facets"
MEMO_SIZE = 500  # facet answers remembered per Datasette instance, the least recently used forgotten first
MEMO_ROWS = 200  # a longer answer (say ?_facet_size=max on a column of ids) is not remembered
_memos = weakref.WeakKeyDictionary()  # Datasette -> OrderedDict((database, sql, params) -> Results)


class ImmutableMemo:
    """Datasette as the facet classes see it: query answers on an immutable database are
    remembered (a query that ran out of time is not, so it is tried again next time)."""

    def __init__(self, datasette):
        self._datasette = datasette

    def __getattr__(self, name):
        return getattr(self._datasette, name)

    async def execute(self, database, sql, params=None, **options):
        if self._datasette.get_database(database).is_mutable:
            return await self._datasette.execute(database, sql, params, **options)
        memo = _memos.setdefault(self._datasette, OrderedDict())
        key = (database, sql, json.dumps(params, sort_keys=True, default=str), options.get("truncate"))
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
        results = await self._datasette.execute(database, sql, params, **options)
        if len(results.rows) <= MEMO_ROWS:
            memo[key] = results
            if len(memo) > MEMO_SIZE:
                memo.popitem(last=False)
        return results


class FacetPolicy:
    """Mixed into every facet class: remembered answers on immutable databases, suggestions only
    where metadata.yml chooses no facets, and timed-out facets reported in JSON."""

    def __init__(self, datasette, *args, **kwargs):
        super().__init__(ImmutableMemo(datasette), *args, **kwargs)

    async def suggest(self):
        if (self.metadata or {}).get("facets"):
            return []
        return await super().suggest()

    async def facet_results(self):
        results, timed_out = await super().facet_results()
        if self.request.url_vars.get("format") == "json":
            results = results + [{"name": column, "type": self.type, "timed_out": True, "results": [],
                                  "truncated": False} for column in timed_out]
        return results, timed_out


class LinkArrayFacet(ArrayFacet):
    """Datasette's array facet, counted through a link table where metadata.yml names one."""

    def _link(self, column):
        if not self.table:
            return None
        links = self.ds.plugin_config(PLUGIN, database=self.database, table=self.table, fallback=False)
        return (links or {}).get(column)

    async def facet_results(self):
        configs = self.get_configs()
        counted = {}  # column -> task: a facet asked for twice (metadata and request) is counted once
        entries = []
        for source_and_config in configs:
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            link = self._link(column)
            if link is None:
                entries.append(self._as_builtin(source_and_config))
                continue
            if column not in counted:
                counted[column] = asyncio.ensure_future(self._count(column, link))
            entries.append(self._entry(column, source_and_config["source"], counted[column]))
        results, timed_out = [], []
        for facet_results, facets_timed_out in await asyncio.gather(*entries):
            results += facet_results
            timed_out += facets_timed_out
        return results, timed_out

    async def _as_builtin(self, source_and_config):
        """Datasette's own array facet for one column that has no link table."""
        alone = copy.copy(self)
        alone.get_configs = lambda: [source_and_config]
        return await ArrayFacet.facet_results(alone)

    async def _count(self, column, link):
        """(value, count) rows, most frequent first, one more than the facet size (to tell
        truncation), or None when the query ran out of time."""
        db = self.ds.get_database(self.database)
        pks = await db.primary_keys(self.table)
        table, key, value = (escape_sqlite(link[name]) for name in ("table", "key", "value"))
        conditions = [f"({link['where']})"] if link.get("where") else []
        filtered = not self._unfiltered()
        if filtered:
            conditions.append(f"{key} in (select {escape_sqlite(pks[0])} from ({self.sql}))")
        where = f"where {' and '.join(conditions)}" if conditions else ""
        counts = f"select {value} as value, count(*) as count from {table} {where} group by {value}"
        if link.get("labels"):
            counts = (f"select labels.{escape_sqlite(link['label'])} as value, counts.count as count "
                      f"from ({counts}) counts join {escape_sqlite(link['labels'])} labels "
                      f"on labels.{escape_sqlite(link.get('label_key', 'id'))} = counts.value")
        sql = f"select value, count from ({counts}) order by count desc, value limit {self.get_facet_size() + 1}"
        try:
            results = await self.ds.execute(self.database, sql, self.params if filtered else [], truncate=False,
                                            custom_time_limit=self.ds.setting("facet_time_limit_ms"))
        except QueryInterrupted:
            return None
        return [(row["value"], row["count"]) for row in results.rows]

    def _unfiltered(self):
        """True when the facet is over the whole table (Datasette's SQL has no WHERE)."""
        return not self.params and self.sql.rstrip().endswith(f" from {escape_sqlite(self.table)}")

    async def _entry(self, column, source, counting):
        rows = await counting
        if rows is None:
            return [], [column]
        facet_size = self.get_facet_size()
        pairs = self.get_querystring_pairs()
        argument = f"{column}__arraycontains"
        values = []
        for value, count in rows[:facet_size]:
            value = str(value)
            selected = (argument, value) in pairs
            toggle = (path_with_removed_args if selected else path_with_added_args)(self.request, {argument: value})
            values.append({"value": value, "label": value, "count": count,
                           "toggle_url": self.ds.absolute_url(self.request, toggle), "selected": selected})
        return [{
            "name": column, "type": self.type, "results": values, "hideable": source != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_array": column})),
            "truncated": len(rows) > facet_size,
        }], []


@functools.cache
def _with_policy(facet_class):
    base = LinkArrayFacet if facet_class is ArrayFacet else facet_class
    return type(base.__name__, (FacetPolicy, base), {})


@hookimpl(wrapper=True)
def register_facet_classes():
    """Swaps every registered facet class (Datasette's and any plugin's) for its policy version."""
    groups = yield
    return [[_with_policy(facet_class) for facet_class in group] for group in groups]
