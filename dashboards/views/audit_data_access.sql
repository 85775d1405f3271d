-- Examiner question: who looked at the audit data itself (console, replay, reports, approval
-- statements), and who failed to sign in to it? (FFIEC II.C.22 "strictly control and monitor
-- access to log files"). One row per console_access event.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND (event_type = 'console_access' OR (event_type = 'auth_failure' AND STARTS_WITH(IFNULL(mcp_method, ''), 'console')))
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
)
SELECT
  event_time,
  DATE(event_time) AS day,
  event_type,
  COALESCE(actor_email, actor_subject, '(anonymous)') AS actor,
  ARRAY_TO_STRING(actor_roles, ',') AS roles,
  mcp_method AS surface,
  request_json AS request,
  approval_id,
  outcome,
  http_status,
  source_ip,
  user_agent,
  event_id
FROM ev
