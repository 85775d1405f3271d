-- Examiner question: what was refused, to whom, and under which rule? (FFIEC II.C.7(b)
-- least privilege enforced; NIST AU-3 outcome; PCI DSS 10.2.1.4 invalid access attempts).
-- One row per denied request, authentication failure or refused HTTP input, with one row per
-- rule id (a denial that names no rule shows rule_id NULL).
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND (decision = 'deny' OR outcome = 'denied' OR event_type IN ('auth_failure', 'http_error'))
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
)
SELECT
  event_time,
  DATE(event_time) AS day,
  event_type,
  COALESCE(actor_email, actor_subject, '(anonymous)') AS actor,
  actor_type,
  auth_method,
  mcp_method,
  tool_name,
  target_table,
  ARRAY_TO_STRING(statement_kinds, ',') AS statement_kinds,
  rule_id,
  error_code,
  decision_reason,
  http_status,
  source_ip,
  session_id,
  event_id,
  policy_version
FROM ev
LEFT JOIN UNNEST(rule_ids) AS rule_id
