-- Persons listed via the 1177 e-services from January through the month, per unit: unique
-- persons over the months of the year so far (Dalarna follows "7 500 persons listed digitally
-- via 1177" this way). A person listed in January and again in March counts once. A unit with
-- persons earlier in the year has a value in every later month of it.
WITH wanted AS (
    SELECT column1 AS month, column2 AS year FROM (VALUES {month_rows})
)
SELECT 'persons_listed_via_1177_ytd' AS kpi, p.unit_id, w.month, '' AS dimensions,
       CAST(count(DISTINCT p.person) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(p.first_at) AS last_event_at
FROM wanted w
JOIN persons_via_1177 p ON p.year = w.year AND p.month <= w.month
GROUP BY p.unit_id, w.month
