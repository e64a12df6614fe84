-- Whether a failure is permanent (the MTA will not try again), apart from what rebound
-- decided about it (`classification`). Rows stored before the parser said so get it from
-- their status class, else their reply code's; NULL when neither tells.
ALTER TABLE events ADD COLUMN permanent INTEGER;
UPDATE events SET permanent = CASE
    WHEN status LIKE '5.%' THEN 1
    WHEN status LIKE '4.%' OR status LIKE '2.%' THEN 0
    WHEN reply_code >= 500 AND reply_code < 600 THEN 1
    WHEN reply_code >= 200 AND reply_code < 500 THEN 0
    ELSE NULL
END;
