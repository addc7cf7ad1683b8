-- Chat growth: chats started this month to date versus the same days of the same month last
-- year, per unit. numerator: this year; denominator: last year, days 1 up to the latest day
-- with chats this month; value = numerator / denominator - 1 (the +10 % target is 0.10).
WITH this_year AS (
    SELECT unit_id, month, month_last_year, max(day_of_month) AS through_day, sum(numerator) AS chats,
           max(last_event_at) AS last_event_at
    FROM daily
    WHERE kpi = 'chats_started' AND dimensions = '' AND month IN ({months})
    GROUP BY unit_id, month, month_last_year
)
SELECT 'chat_growth' AS kpi, t.unit_id, t.month, '' AS dimensions,
       t.chats AS numerator,
       CAST(coalesce(sum(l.numerator), 0) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       t.last_event_at
FROM this_year t
LEFT JOIN daily l
       ON l.kpi = 'chats_started' AND l.dimensions = '' AND l.unit_id = t.unit_id
      AND l.month = t.month_last_year AND l.day_of_month <= t.through_day
GROUP BY t.unit_id, t.month, t.chats, t.last_event_at
