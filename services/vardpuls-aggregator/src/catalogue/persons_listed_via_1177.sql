-- Persons listed via the 1177 e-services, per unit and month: unique persons (patient_ref), not
-- listings; a person listed twice in the month counts once. A count. Reads the listings
-- shard's set of persons (crate::persons), one row per unit, month and person.
SELECT 'persons_listed_via_1177' AS kpi, unit_id, month, '' AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(first_at) AS last_event_at
FROM persons_via_1177
WHERE month IN ({months})
GROUP BY unit_id, month
