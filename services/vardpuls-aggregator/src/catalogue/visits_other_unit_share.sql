-- Visits to another vårdcentral: share of a unit's visits made by patients listed elsewhere.
-- denominator: visits whose listing unit is known (listed_unit_id on the visit).
-- numerator:   those where the patient is listed at another unit.
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN listed_unit_id <> unit_id THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM {production_visits}
WHERE listed_unit_id IS NOT NULL
GROUP BY unit_id, day
