-- Share of digital visits, per unit and local day (monthly: sums, then divides).
-- numerator:   digital visits (video, chat/e-service). Phone is distance, not digital.
-- denominator: all visits incl. distance.
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN contact_form IN ('video', 'chat') THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM {production_visits}
GROUP BY unit_id, day
