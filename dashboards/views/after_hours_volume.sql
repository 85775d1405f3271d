-- Examiner question: who accessed data outside business hours, or in unusual volume for them?
-- (FFIEC II.C.22 log review; CAT D3.DC.An.B.5 anomalous activity; NIST AU-6). One row per UTC
-- day and actor with their after-hours calls (before 07:00, from 19:00, or on a weekend, in
-- the bank's time zone: America/New_York here; change the literal to yours) and their volume
-- against their own trailing 30 days: flagged when above mean + 3 standard deviations (with at
-- least 7 days of history) or, with less history, above 500 calls.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND event_type = 'mcp_request'
    AND mcp_method = 'tools/call'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
),
daily AS (
  SELECT
    DATE(event_time) AS day,
    COALESCE(actor_email, actor_subject, '(anonymous)') AS actor,
    ANY_VALUE(actor_type) AS actor_type,
    COUNT(*) AS calls,
    COUNTIF(
      EXTRACT(HOUR FROM DATETIME(event_time, 'America/New_York')) < 7
      OR EXTRACT(HOUR FROM DATETIME(event_time, 'America/New_York')) >= 19
      OR EXTRACT(DAYOFWEEK FROM DATETIME(event_time, 'America/New_York')) IN (1, 7)
    ) AS after_hours_calls,
    SUM(IFNULL(rows_returned, 0)) AS rows_returned,
    COUNT(DISTINCT target_table) AS tables_touched
  FROM ev
  GROUP BY day, actor
),
baseline AS (
  SELECT
    *,
    AVG(calls) OVER w AS mean_calls_30d,
    STDDEV_POP(calls) OVER w AS stddev_calls_30d,
    COUNT(*) OVER w AS history_days
  FROM daily
  WINDOW w AS (PARTITION BY actor ORDER BY UNIX_DATE(day) RANGE BETWEEN 30 PRECEDING AND 1 PRECEDING)
)
SELECT
  day,
  actor,
  actor_type,
  calls,
  after_hours_calls,
  rows_returned,
  tables_touched,
  mean_calls_30d,
  stddev_calls_30d,
  history_days,
  after_hours_calls > 0 AS after_hours,
  CASE
    WHEN history_days >= 7 THEN calls > mean_calls_30d + 3 * GREATEST(IFNULL(stddev_calls_30d, 0), 1)
    ELSE calls > 500
  END AS unusual_volume
FROM baseline
