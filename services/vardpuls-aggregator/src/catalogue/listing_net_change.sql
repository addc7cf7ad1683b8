-- Net listing change (listed minus unlisted), per unit and local day, in total and by the
-- patient's kommun; rolled up per kommun it is the kommun's listing development.
-- cases: the listings and unlistings behind the net (+1 -1 is 0, from two persons).
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN event_type = 'listed' THEN 1 ELSE -1 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at,
       count(*) AS cases
FROM listings
WHERE event_type IN ('listed', 'unlisted')
GROUP BY unit_id, day
UNION ALL
SELECT unit_id, day, concat('kommun_code=', kommun_code),
       CAST(sum(CASE WHEN event_type = 'listed' THEN 1 ELSE -1 END) AS DECIMAL(20, 2)),
       CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at), count(*)
FROM listings
WHERE event_type IN ('listed', 'unlisted')
GROUP BY unit_id, day, kommun_code
