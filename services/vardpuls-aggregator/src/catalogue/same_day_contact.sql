-- Same-day contact (telefontillgänglighet, "kontakt inom 0 dagar"), per unit and local day.
-- denominator: calls to the unit's own line received within phone hours.
-- numerator:   those that got contact the same local day: answered, or called back and reached.
-- pending:     not met and not closed yet (still queued, or a callback booked and not yet
--              reached); at the end of the day every pending call is a miss.
-- Events of a call on a later local day (an answer after midnight, a callback tomorrow) fall
-- in that day's group, where the call has no call_received: they never count for today.
-- {count_abandoned}: TRUE counts abandoned calls as no contact (default); FALSE leaves calls
-- abandoned without a callback out of the denominator.
WITH calls AS (
    SELECT unit_id, day, call_id,
           max(occurred_at) AS last_event_at,
           bool_or(event_type = 'call_received' AND in_phone_hours) AS counted,
           bool_or(event_type = 'call_answered') AS answered,
           bool_or(event_type = 'callback_completed' AND reached) AS reached_back,
           bool_or(event_type = 'callback_booked') AS callback_booked,
           bool_or(event_type = 'call_abandoned') AS abandoned
    FROM phone
    WHERE line = 'primary_care'
    GROUP BY unit_id, day, call_id
), outcomes AS (
    SELECT unit_id, day, last_event_at,
           answered OR reached_back AS met,
           abandoned AND NOT callback_booked AND NOT (answered OR reached_back) AS gave_up
    FROM calls
    WHERE counted
)
SELECT unit_id, day, '' AS dimensions,
       CAST(sum(CASE WHEN met THEN 1 ELSE 0 END) AS DECIMAL(20, 2)) AS numerator,
       CAST(count(*) AS DECIMAL(20, 2)) AS denominator,
       sum(CASE WHEN NOT met AND NOT gave_up THEN 1 ELSE 0 END) AS pending,
       max(last_event_at) AS last_event_at
FROM outcomes
WHERE {count_abandoned} OR NOT gave_up
GROUP BY unit_id, day
