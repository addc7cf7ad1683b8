-- 1177 Vårdguiden på telefon: share of received calls that were answered the same local day.
WITH calls AS (
    SELECT unit_id, day, call_id,
           max(occurred_at) AS occurred_at,
           bool_or(event_type = 'call_received') AS received,
           bool_or(event_type = 'call_answered') AS answered
    FROM phone
    WHERE line = '1177'
    GROUP BY unit_id, day, call_id
)
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN answered THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM calls
WHERE received
GROUP BY unit_id, day
