#!/usr/bin/env python3
"""Daily KPIs computed by DuckDB from NDJSON files, as an analyst would in batch.

An independent cross-check of the aggregator: a different engine, its own SQL, and its own
calendar (DuckDB's ICU time zones rather than vardpuls' Rust calendar). Reads phone.ndjson,
visits.ndjson and chats.ndjson from the directory given, counts each event_id once, and prints
one JSON object per line: kpi, unit_id, day, numerator, denominator.

Usage: duckdb_daily_kpis.py DIR
"""
import json
import pathlib
import sys

import duckdb

LOCAL_DAY = "CAST(timezone('Europe/Stockholm', CAST({col} AS TIMESTAMPTZ)) AS DATE)"

QUERIES = {
    "same_day_contact": """
        WITH p AS (
            SELECT *, {day} AS day FROM read_json_auto('{dir}/phone.ndjson', union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        ), calls AS (
            SELECT unit_id, day, call_id,
                   bool_or(event_type = 'call_received' AND in_phone_hours) AS counted,
                   bool_or(event_type = 'call_answered' OR (event_type = 'callback_completed' AND reached)) AS met
            FROM p WHERE line = 'primary_care'
            GROUP BY unit_id, day, call_id
        )
        SELECT unit_id, day, count(*) FILTER (WHERE met) AS numerator, count(*) AS denominator
        FROM calls WHERE counted GROUP BY unit_id, day
    """,
    "visits": """
        SELECT unit_id, day, count(*) AS numerator, NULL AS denominator FROM (
            SELECT *, {day} AS day FROM read_json_auto('{dir}/visits.ndjson', union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        ) GROUP BY unit_id, day
    """,
    "digital_visit_share": """
        SELECT unit_id, day, count(*) FILTER (WHERE contact_form IN ('video', 'chat')) AS numerator,
               count(*) AS denominator FROM (
            SELECT *, {day} AS day FROM read_json_auto('{dir}/visits.ndjson', union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        ) GROUP BY unit_id, day
    """,
    "assessment_within_3_days": """
        SELECT unit_id, day,
               count(*) FILTER (WHERE date_diff('day', first_day, day) <= 3) AS numerator,
               count(*) AS denominator FROM (
            SELECT *, {day} AS day, {first_day} AS first_day
            FROM read_json_auto('{dir}/visits.ndjson', union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        )
        WHERE assessment IS NOT NULL AND NOT coalesce(assessment.patient_chosen_wait, false)
        GROUP BY unit_id, day
    """,
    "chats_started": """
        SELECT unit_id, day, count(*) AS numerator, NULL AS denominator FROM (
            SELECT *, {day} AS day FROM read_json_auto('{dir}/chats.ndjson', union_by_name = true)
            QUALIFY row_number() OVER (PARTITION BY event_id) = 1
        ) GROUP BY unit_id, day
    """,
}


def main() -> None:
    directory = pathlib.Path(sys.argv[1])
    con = duckdb.connect()
    for kpi, sql in QUERIES.items():
        query = sql.format(
            dir=directory,
            day=LOCAL_DAY.format(col="occurred_at"),
            first_day=LOCAL_DAY.format(col="assessment.first_contact_at"),
        )
        for unit_id, day, numerator, denominator in con.sql(query).fetchall():
            print(json.dumps({"kpi": kpi, "unit_id": unit_id, "day": day.isoformat(),
                              "numerator": int(numerator), "denominator": None if denominator is None else int(denominator)}))


if __name__ == "__main__":
    main()
