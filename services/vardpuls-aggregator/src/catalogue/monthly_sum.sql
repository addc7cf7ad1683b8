-- Monthly values of additive KPIs: sum the daily numerators and denominators, then divide
-- (never average daily ratios).
SELECT kpi, unit_id, month, dimensions,
       sum(numerator) AS numerator,
       sum(denominator) AS denominator,
       sum(pending) AS pending,
       max(last_event_at) AS last_event_at,
       sum(cases) AS cases,
       max(day) AS last_day
FROM daily
WHERE kpi IN ({additive_kpis}) AND month IN ({months})
GROUP BY kpi, unit_id, month, dimensions
