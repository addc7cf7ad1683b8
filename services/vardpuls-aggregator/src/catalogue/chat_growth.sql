-- Chat growth: chats started this month against the same days of the same month last year,
-- per unit. numerator: this year; denominator: last year; value = numerator / denominator - 1
-- (the +10 % target is 0.10).
-- Both sides count the same days of the month: through the data's current day (its partition's
-- progress; or the unit's latest day with chats this month, if later: the progress trails the
-- newest events) while the month is current, the whole month once the data is past it (so a final
-- February compares with last year's whole February, the 29th included). A unit with chats
-- last year and none this month compares 0 with last year's, so a region's growth counts it.
WITH chats AS (
    SELECT unit_id, month, month_next_year, day_of_month, numerator, last_event_at, current_day
    FROM daily
    WHERE kpi = 'chats_started' AND dimensions = ''
), compared AS (
    SELECT unit_id, month FROM chats WHERE month IN ({months})
    UNION
    SELECT unit_id, month_next_year AS month FROM chats WHERE month_next_year IN ({months})
), through AS (
    SELECT c.unit_id, c.month,
           CASE WHEN to_char(max(d.current_day), '%Y-%m') = c.month
                THEN greatest(date_part('day', max(d.current_day)),
                              coalesce(max(CASE WHEN d.month = c.month THEN d.day_of_month END), 0))
                ELSE 31 END AS through_day
    FROM compared c
    LEFT JOIN chats d ON d.unit_id = c.unit_id
    GROUP BY c.unit_id, c.month
)
SELECT 'chat_growth' AS kpi, t.unit_id, t.month, '' AS dimensions,
       CAST(coalesce(sum(CASE WHEN c.month = t.month THEN c.numerator END), 0) AS DECIMAL(20, 2)) AS numerator,
       CAST(coalesce(sum(CASE WHEN c.month_next_year = t.month THEN c.numerator END), 0) AS DECIMAL(20, 2))
           AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(c.last_event_at) AS last_event_at
FROM through t
LEFT JOIN chats c
       ON c.unit_id = t.unit_id AND (c.month = t.month OR c.month_next_year = t.month)
      AND c.day_of_month <= t.through_day
GROUP BY t.unit_id, t.month
