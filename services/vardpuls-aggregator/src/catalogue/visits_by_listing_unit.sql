-- Visits by the unit the patient is listed at (listed_unit_id), per visited unit and local day:
-- the visited unit's own listed patients included. Plumbing, not a figure: the roll-up stage
-- turns it around into each listing unit's share of its listed patients' visits made at other
-- units (listed_patients_seen_elsewhere_share), which vårdval follows from the listing unit.
SELECT unit_id, day, concat('listed_unit=', listed_unit_id) AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM {production_visits}
WHERE listed_unit_id IS NOT NULL
GROUP BY unit_id, day, listed_unit_id
