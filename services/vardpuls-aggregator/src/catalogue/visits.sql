-- Visits incl. distance (physical + phone, video, chat), per unit and local day: in total, by
-- profession, by contact form, and as the regions' production reports group them, doctor or
-- other professions by physical or distance ("Läkarbesök - Distans"). A count: no denominator.
-- {production_visits}: the unit's own production; other regions' residents' out-of-county
-- contacts are left out unless aggregator.count_out_of_county_visits (docs/kpis.md).
SELECT unit_id, day, '' AS dimensions,
       CAST(count(*) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM {production_visits}
GROUP BY unit_id, day
UNION ALL
SELECT unit_id, day, concat('profession=', profession),
       CAST(count(*) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at)
FROM {production_visits}
GROUP BY unit_id, day, profession
UNION ALL
SELECT unit_id, day, concat('contact_form=', contact_form),
       CAST(count(*) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at)
FROM {production_visits}
GROUP BY unit_id, day, contact_form
UNION ALL
SELECT unit_id, day, concat('contact_group=', contact_group, ';profession_group=', profession_group),
       CAST(count(*) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at)
FROM (SELECT unit_id, day, occurred_at,
             CASE WHEN contact_form = 'physical' THEN 'physical' ELSE 'distance' END AS contact_group,
             CASE WHEN profession = 'doctor' THEN 'doctor' ELSE 'other' END AS profession_group
      FROM {production_visits})
GROUP BY unit_id, day, contact_group, profession_group
