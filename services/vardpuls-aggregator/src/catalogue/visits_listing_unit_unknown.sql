-- Visits whose listing unit is not known (no listed_unit_id), per visited unit and local day:
-- counted on their own, since they are in neither the visited unit's nor any listing unit's
-- share of visits to another vårdcentral. A count.
SELECT unit_id, day, '' AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM {production_visits}
WHERE listed_unit_id IS NULL
GROUP BY unit_id, day
