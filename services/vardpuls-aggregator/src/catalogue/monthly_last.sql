-- Monthly values of stock KPIs: the value of the month's last day with data.
SELECT kpi, unit_id, month, dimensions, numerator, denominator, pending, last_event_at, cases, day AS last_day
FROM (
    SELECT *, row_number() OVER (PARTITION BY kpi, unit_id, month, dimensions ORDER BY day DESC) AS newest
    FROM daily
    WHERE kpi IN ({stock_kpis}) AND month IN ({months})
)
WHERE newest = 1
