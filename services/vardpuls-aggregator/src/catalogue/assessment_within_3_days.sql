-- Medical assessment within 3 days (medicinsk bedömning), per unit and local day of the
-- assessment, in total and by profession.
-- denominator: first assessments of a new or worsened care need, excluding waits the patient
--              chose (patient_chosen_wait).
-- numerator:   those made 0-3 calendar days after the first contact (weekends and holidays
--              count: contact 5 March, assessment 8 March is within).
-- assessment_wait_days is local calendar days between first contact and assessment.
WITH assessments AS (
    SELECT unit_id, day, profession, occurred_at, assessment_wait_days <= 3 AS within
    FROM {production_visits}
    WHERE is_first_assessment AND NOT patient_chosen_wait
)
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN within THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM assessments
GROUP BY unit_id, day
UNION ALL
SELECT unit_id, day, concat('profession=', profession) AS dimensions,
       CAST(sum(CASE WHEN within THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       CAST(NULL AS BIGINT) AS pending,
       max(occurred_at) AS last_event_at
FROM assessments
GROUP BY unit_id, day, profession
