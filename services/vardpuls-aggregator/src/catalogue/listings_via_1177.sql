-- Listings made via the 1177 e-services, per unit and local day, in total and by the
-- patient's kommun. A count.
SELECT unit_id, day, '' AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM listings
WHERE event_type = 'listed' AND channel = 'e_service_1177'
GROUP BY unit_id, day
UNION ALL
SELECT unit_id, day, concat('kommun_code=', kommun_code),
       CAST(count(*) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at)
FROM listings
WHERE event_type = 'listed' AND channel = 'e_service_1177'
GROUP BY unit_id, day, kommun_code
