-- Chats started, per unit and local day, in total and by channel. A count.
SELECT unit_id, day, '' AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM chats
GROUP BY unit_id, day
UNION ALL
SELECT unit_id, day, concat('channel=', channel),
       CAST(count(*) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at)
FROM chats
GROUP BY unit_id, day, channel
