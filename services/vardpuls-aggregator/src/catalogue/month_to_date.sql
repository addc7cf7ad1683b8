-- Month to date: a month's closed days folded into one row per KPI, unit and breakdown, which
-- the monthly queries then read instead of every closed day. It is those monthly queries
-- themselves (sums for additive KPIs, the newest day for stocks), with each row dated by the
-- latest day folded in (chat_growth reads that as the day the month has data through).
-- Runs on the `daily` table of one fold: the previous month-to-date rows and the newly closed
-- days, of the months in {months}.
SELECT kpi, unit_id, last_day AS day, dimensions, numerator, denominator, pending, last_event_at, cases
FROM ({monthly_sum})
UNION ALL
SELECT kpi, unit_id, last_day AS day, dimensions, numerator, denominator, pending, last_event_at, cases
FROM ({monthly_last})
