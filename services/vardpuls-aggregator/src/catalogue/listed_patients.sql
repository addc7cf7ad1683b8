-- Listed patients (listning): a unit's list size at the end of each local day with listing
-- activity. The latest stock_snapshot at or before the day sets the level; listed and unlisted
-- events after it move it. Without a snapshot among the open days, the level is the last final
-- value (closed_latest). A stock: the month's value is its last day's.
WITH days AS (
    SELECT unit_id, day, max(occurred_at) AS last_event_at FROM listings GROUP BY unit_id, day
), snapshots AS (
    SELECT unit_id, occurred_at, max(listed_count) AS listed_count, min(day) AS day
    FROM listings WHERE event_type = 'stock_snapshot'
    GROUP BY unit_id, occurred_at
), last_snapshot AS (
    SELECT d.unit_id, d.day, d.last_event_at, max(s.occurred_at) AS snap_at
    FROM days d LEFT JOIN snapshots s ON s.unit_id = d.unit_id AND s.day <= d.day
    GROUP BY d.unit_id, d.day, d.last_event_at
), base AS (
    SELECT l.unit_id, l.day, l.last_event_at, l.snap_at,
           CASE WHEN l.snap_at IS NULL THEN coalesce(c.numerator, 0) ELSE s.listed_count END AS level
    FROM last_snapshot l
    LEFT JOIN snapshots s ON s.unit_id = l.unit_id AND s.occurred_at = l.snap_at
    LEFT JOIN closed_latest c ON c.kpi = 'listed_patients' AND c.unit_id = l.unit_id AND c.dimensions = ''
), moves AS (
    SELECT b.unit_id, b.day, b.last_event_at, b.level,
           sum(CASE WHEN e.event_type = 'listed' THEN 1 WHEN e.event_type = 'unlisted' THEN -1 ELSE 0 END) AS net
    FROM base b
    LEFT JOIN listings e
           ON e.unit_id = b.unit_id AND e.day <= b.day AND e.event_type IN ('listed', 'unlisted')
          AND (b.snap_at IS NULL OR e.occurred_at > b.snap_at)
    GROUP BY b.unit_id, b.day, b.last_event_at, b.level
)
SELECT unit_id, day, '' AS dimensions,
       CAST(level + coalesce(net, 0) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       last_event_at
FROM moves
