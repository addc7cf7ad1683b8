-- Month to date: a month's closed days folded into one row per KPI, unit and breakdown, which
-- the monthly queries then read instead of every closed day. Additive KPIs sum, as
-- monthly_sum.sql does; stock KPIs keep their newest day, as monthly_last.sql does. `day` is
-- the latest day folded in (chat_growth reads it as the day the month has data through).
-- Runs on the `daily` table of one fold: the previous month-to-date rows and the newly closed
-- days, of the months in {months}.
SELECT kpi, unit_id, max(day) AS day, dimensions,
       sum(numerator) AS numerator,
       sum(denominator) AS denominator,
       sum(pending) AS pending,
       max(last_event_at) AS last_event_at
FROM daily
WHERE kpi IN ({additive_kpis}) AND month IN ({months})
GROUP BY kpi, unit_id, month, dimensions
UNION ALL
SELECT kpi, unit_id, day, dimensions, numerator, denominator, pending, last_event_at
FROM (
    SELECT *, row_number() OVER (PARTITION BY kpi, unit_id, month, dimensions ORDER BY day DESC) AS newest
    FROM daily
    WHERE kpi IN ({stock_kpis}) AND month IN ({months})
)
WHERE newest = 1
