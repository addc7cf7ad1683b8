-- Cost of digital out-of-county care (utomlänsvård): the price of digital contacts residents
-- made with providers contracted by other regions, in exact SEK, by the patient's home region,
-- provider and profession. Gross price; the patient fee is not deducted. cases: the contacts
-- behind the sum (a cell of 425.00 SEK is one psychologist contact, and is suppressed as one).
SELECT unit_id, day,
       concat('home_region=', ooc_home_region) AS dimensions,
       CAST(sum(ooc_price_sek) AS DECIMAL(20, 2)) AS numerator,
       CAST(NULL AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at,
       count(*) AS cases
FROM visits
WHERE ooc_provider IS NOT NULL
GROUP BY unit_id, day, ooc_home_region
UNION ALL
SELECT unit_id, day,
       concat('home_region=', ooc_home_region, ';profession=', profession, ';provider=', ooc_provider),
       CAST(sum(ooc_price_sek) AS DECIMAL(20, 2)), CAST(NULL AS DECIMAL(20, 2)), CAST(NULL AS BIGINT), max(occurred_at),
       count(*)
FROM visits
WHERE ooc_provider IS NOT NULL
GROUP BY unit_id, day, ooc_home_region, profession, ooc_provider
