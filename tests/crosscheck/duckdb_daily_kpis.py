#!/usr/bin/env python3
"""Every daily KPI of vardpuls, computed by DuckDB from NDJSON files, as an analyst would in batch.

An independent cross-check of the aggregator: a different engine, its own SQL written from
DOMAIN.md's definitions, and its own calendar (DuckDB's ICU time zones rather than vardpuls'
Rust calendar). It is also the other side of the aggregation benchmark (`make bench`, (c)), so
it computes the same daily KPIs with the same breakdowns as the aggregator's catalogue.

Reads phone.ndjson, visits.ndjson, listings.ndjson and chats.ndjson (any subset) from the
directory given, loads each once with explicit column types and counts each event_id once and
each visit or chat in its counting version, and
prints one JSON object per line: kpi, unit_id, day, dimensions (`k=v;k=v`, keys in alphabetical
order, empty for the total), numerator and denominator as decimal strings (denominator null for
counts and sums). On stderr it reports the time from reading the files to having every value
in memory, which the benchmark compares with `vardpuls aggregate-files`.

Usage: duckdb_daily_kpis.py DIR
"""
import json
import pathlib
import sys
import time
from decimal import Decimal

import duckdb

LOCAL_DAY = "CAST(timezone('Europe/Stockholm', CAST({col} AS TIMESTAMPTZ)) AS DATE)"

# The day an event counts on: its own, except that a 1177 answer counts on the day its call came in
# (its time less the queue wait; docs/kpis.md, "1177 across midnight").
COUNTS_ON = {"phone": """CASE WHEN line = '1177' AND event_type = 'call_answered'
    THEN """ + LOCAL_DAY.format(col="CAST(occurred_at AS TIMESTAMPTZ) - to_seconds(queue_wait_seconds)") + """
    ELSE """ + LOCAL_DAY.format(col="occurred_at") + " END"}

# The fields each KPI reads, typed as the event contracts (schemas/) define them.
COLUMNS = {
    "phone": {"event_id": "VARCHAR", "occurred_at": "VARCHAR", "unit_id": "VARCHAR", "event_type": "VARCHAR",
              "call_id": "VARCHAR", "line": "VARCHAR", "in_phone_hours": "BOOLEAN",
              "queue_wait_seconds": "BIGINT", "reached": "BOOLEAN"},
    "visits": {"event_id": "VARCHAR", "occurred_at": "VARCHAR", "unit_id": "VARCHAR", "event_type": "VARCHAR",
               "visit_id": "VARCHAR", "recorded_at": "VARCHAR", "profession": "VARCHAR",
               "contact_form": "VARCHAR", "listed_unit_id": "VARCHAR",
               "assessment": "STRUCT(first_contact_at VARCHAR, patient_chosen_wait BOOLEAN)",
               "out_of_county": "STRUCT(provider VARCHAR, home_region VARCHAR, price_sek VARCHAR)"},
    "listings": {"event_id": "VARCHAR", "occurred_at": "VARCHAR", "unit_id": "VARCHAR", "event_type": "VARCHAR",
                 "kommun_code": "VARCHAR", "channel": "VARCHAR", "listed_count": "BIGINT"},
    "chats": {"event_id": "VARCHAR", "occurred_at": "VARCHAR", "unit_id": "VARCHAR", "chat_id": "VARCHAR",
              "recorded_at": "VARCHAR", "channel": "VARCHAR"},
}

# Versions of one visit or chat (same unit, id and local day; docs/kpis.md, "Corrections"): the one
# recorded last counts, one with recorded_at before one without, then a cancellation, then the
# greatest event_id. A visit whose counting version is a cancellation counts nowhere.
VERSIONS = {"visits": ("visit_id", "event_type = 'visit_cancelled'"), "chats": ("chat_id", "false")}

# Each query returns unit_id, day, dimensions, numerator, denominator.
QUERIES = {
    "same_day_contact": ("phone", """
        WITH calls AS (
            SELECT unit_id, day, call_id,
                   bool_or(event_type = 'call_received' AND in_phone_hours) AS counted,
                   bool_or(event_type = 'call_answered' OR (event_type = 'callback_completed' AND reached)) AS met
            FROM phone WHERE line = 'primary_care'
            GROUP BY unit_id, day, call_id
        )
        SELECT unit_id, day, '', count(*) FILTER (WHERE met), count(*)
        FROM calls WHERE counted GROUP BY unit_id, day
    """),
    "phone_1177_answered_share": ("phone", """
        WITH calls AS (
            SELECT unit_id, day, call_id,
                   bool_or(event_type = 'call_received') AS received,
                   bool_or(event_type = 'call_answered') AS answered
            FROM phone WHERE line = '1177'
            GROUP BY unit_id, day, call_id
        )
        SELECT unit_id, day, '', count(*) FILTER (WHERE answered), count(*)
        FROM calls WHERE received GROUP BY unit_id, day
    """),
    "phone_1177_mean_wait_seconds": ("phone", """
        SELECT unit_id, day, '', sum(queue_wait_seconds), count(*)
        FROM phone WHERE line = '1177' AND event_type = 'call_answered'
        GROUP BY unit_id, day
    """),
    "visits": ("visits", """
        SELECT unit_id, day, '', count(*), NULL FROM production GROUP BY unit_id, day
        UNION ALL
        SELECT unit_id, day, 'profession=' || profession, count(*), NULL FROM production GROUP BY unit_id, day, profession
        UNION ALL
        SELECT unit_id, day, 'contact_form=' || contact_form, count(*), NULL FROM production GROUP BY unit_id, day, contact_form
        UNION ALL
        SELECT unit_id, day,
               'contact_group=' || CASE WHEN contact_form = 'physical' THEN 'physical' ELSE 'distance' END ||
               ';profession_group=' || CASE WHEN profession = 'doctor' THEN 'doctor' ELSE 'other' END,
               count(*), NULL
        FROM production GROUP BY ALL
    """),
    "digital_visit_share": ("visits", """
        SELECT unit_id, day, '', count(*) FILTER (WHERE contact_form IN ('video', 'chat')), count(*)
        FROM production GROUP BY unit_id, day
    """),
    "assessment_within_3_days": ("visits", """
        WITH assessments AS (
            SELECT unit_id, day, profession,
                   date_diff('day', {first_contact_day}, day) <= 3 AS within
            FROM production
            WHERE assessment IS NOT NULL AND NOT coalesce(assessment.patient_chosen_wait, false)
        )
        SELECT unit_id, day, '', count(*) FILTER (WHERE within), count(*) FROM assessments GROUP BY unit_id, day
        UNION ALL
        SELECT unit_id, day, 'profession=' || profession, count(*) FILTER (WHERE within), count(*)
        FROM assessments GROUP BY unit_id, day, profession
    """),
    "visits_other_unit_share": ("visits", """
        SELECT unit_id, day, '', count(*) FILTER (WHERE listed_unit_id <> unit_id), count(*)
        FROM production WHERE listed_unit_id IS NOT NULL GROUP BY unit_id, day
    """),
    "visits_by_listing_unit": ("visits", """
        SELECT unit_id, day, 'listed_unit=' || listed_unit_id, count(*), NULL
        FROM production WHERE listed_unit_id IS NOT NULL GROUP BY unit_id, day, listed_unit_id
    """),
    "visits_listing_unit_unknown": ("visits", """
        SELECT unit_id, day, '', count(*), NULL FROM production WHERE listed_unit_id IS NULL GROUP BY unit_id, day
    """),
    "out_of_county_digital_cost_sek": ("visits", """
        WITH contacts AS (
            SELECT unit_id, day, profession, out_of_county.provider AS provider,
                   out_of_county.home_region AS home_region,
                   CAST(out_of_county.price_sek AS DECIMAL(18, 2)) AS price
            FROM visits WHERE out_of_county IS NOT NULL
        )
        SELECT unit_id, day, 'home_region=' || home_region, sum(price), NULL
        FROM contacts GROUP BY unit_id, day, home_region
        UNION ALL
        SELECT unit_id, day, 'home_region=' || home_region || ';profession=' || profession || ';provider=' || provider,
               sum(price), NULL
        FROM contacts GROUP BY unit_id, day, home_region, profession, provider
    """),
    "chats_started": ("chats", """
        SELECT unit_id, day, '', count(*), NULL FROM chats GROUP BY unit_id, day
        UNION ALL
        SELECT unit_id, day, 'channel=' || channel, count(*), NULL FROM chats GROUP BY unit_id, day, channel
    """),
    "listings_via_1177": ("listings", """
        WITH via AS (SELECT * FROM listings WHERE event_type = 'listed' AND channel = 'e_service_1177')
        SELECT unit_id, day, '', count(*), NULL FROM via GROUP BY unit_id, day
        UNION ALL
        SELECT unit_id, day, 'kommun_code=' || kommun_code, count(*), NULL FROM via GROUP BY unit_id, day, kommun_code
    """),
    "listing_net_change": ("listings", """
        WITH moves AS (
            SELECT unit_id, day, kommun_code, CASE WHEN event_type = 'listed' THEN 1 ELSE -1 END AS delta
            FROM listings WHERE event_type IN ('listed', 'unlisted')
        )
        SELECT unit_id, day, '', sum(delta), NULL FROM moves GROUP BY unit_id, day
        UNION ALL
        SELECT unit_id, day, 'kommun_code=' || kommun_code, sum(delta), NULL FROM moves GROUP BY unit_id, day, kommun_code
    """),
    # A stock over the whole history in the files, on every day from the unit's first event to
    # the last day in the files: the latest snapshot on or before the day, moved by the listings
    # and unlistings after it up to the end of the day.
    "listed_patients": ("listings", """
        WITH firsts AS (
            SELECT unit_id, min(day) AS first_day FROM listings GROUP BY unit_id
        ), days AS (
            SELECT f.unit_id, CAST(g.d AS DATE) AS day
            FROM firsts f, (SELECT max(day) AS last_day FROM listings) l,
                 generate_series(CAST(f.first_day AS TIMESTAMP), CAST(l.last_day AS TIMESTAMP), INTERVAL 1 DAY) g(d)
        ), snapshots AS (
            SELECT unit_id, ts, day, max(listed_count) AS listed_count
            FROM listings WHERE event_type = 'stock_snapshot' GROUP BY unit_id, ts, day
        ), latest AS (
            SELECT d.unit_id, d.day, max(s.ts) AS snap_at
            FROM days d LEFT JOIN snapshots s ON s.unit_id = d.unit_id AND s.day <= d.day
            GROUP BY d.unit_id, d.day
        )
        SELECT l.unit_id, l.day, '',
               coalesce(any_value(s.listed_count), 0)
                 + coalesce(sum(CASE m.event_type WHEN 'listed' THEN 1 WHEN 'unlisted' THEN -1 ELSE 0 END), 0),
               NULL
        FROM latest l
        LEFT JOIN snapshots s ON s.unit_id = l.unit_id AND s.ts = l.snap_at
        LEFT JOIN listings m ON m.unit_id = l.unit_id AND m.day <= l.day
              AND m.event_type IN ('listed', 'unlisted') AND (l.snap_at IS NULL OR m.ts > l.snap_at)
        GROUP BY l.unit_id, l.day
    """),
}


def load(con: duckdb.DuckDBPyConnection, directory: pathlib.Path) -> set:
    """One table per topic file present: typed, each event_id once, with its instant and local day."""
    loaded = set()
    for topic, columns in COLUMNS.items():
        path = directory / f"{topic}.ndjson"
        if not path.exists():
            continue
        spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
        con.execute(f"""
            CREATE TABLE {topic} AS
            SELECT *, CAST(occurred_at AS TIMESTAMPTZ) AS ts, {COUNTS_ON.get(topic, LOCAL_DAY.format(col='occurred_at'))} AS day
            FROM read_json('{path}', format = 'newline_delimited', columns = {spec})
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        """)
        if topic in VERSIONS:
            key, cancellation = VERSIONS[topic]
            con.execute(f"""
                CREATE OR REPLACE TABLE {topic} AS
                SELECT * FROM {topic}
                QUALIFY row_number() OVER (
                    PARTITION BY unit_id, {key}, day
                    ORDER BY CAST(recorded_at AS TIMESTAMPTZ) DESC NULLS LAST, {cancellation} DESC, lower(event_id) DESC
                ) = 1
            """)
            con.execute(f"DELETE FROM {topic} WHERE {cancellation}")
        if topic == "visits":
            # A unit's production: other regions' residents' out-of-county contacts count only
            # in the cost KPI (aggregator.count_out_of_county_visits = false).
            con.execute("CREATE VIEW production AS SELECT * FROM visits WHERE out_of_county IS NULL")
        loaded.add(topic)
    return loaded


def text(value) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


def main() -> None:
    directory = pathlib.Path(sys.argv[1])
    started = time.monotonic()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    loaded = load(con, directory)
    first_contact_day = LOCAL_DAY.format(col="assessment.first_contact_at")
    results = {kpi: con.sql(sql.format(first_contact_day=first_contact_day)).fetchall()
               for kpi, (topic, sql) in QUERIES.items() if topic in loaded}
    seconds = time.monotonic() - started
    out = sys.stdout
    for kpi, rows in results.items():
        for unit_id, day, dimensions, numerator, denominator in rows:
            out.write(json.dumps({"kpi": kpi, "unit_id": unit_id, "day": day.isoformat(), "dimensions": dimensions,
                                  "numerator": text(numerator), "denominator": text(denominator)}) + "\n")
    print(f"{sum(map(len, results.values()))} daily values of {len(results)} KPIs in {seconds:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
