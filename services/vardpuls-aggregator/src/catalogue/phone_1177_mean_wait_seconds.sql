-- 1177 Vårdguiden på telefon: mean queue wait of answered calls, per unit (the region's 1177
-- service) and local day. numerator: seconds waited; denominator: answered calls.
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(queue_wait_seconds) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM phone
WHERE line = '1177' AND event_type = 'call_answered'
GROUP BY unit_id, day
