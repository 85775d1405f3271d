-- Examiner question: who used the gateway, how much, and when? (FFIEC II.C.7(b) access
-- review; NIST AU-3; PCI DSS 10.2.2). One row per UTC day, actor and actor type.
--
-- Deployed by the Terraform module as a view in the views dataset; templatefile() fills
-- ${project}, ${dataset} and ${table} with the raw audit table. The raw table requires a
-- partition filter, so every view reads a rolling 400-day window of event_time (12 months
-- plus a quarter of slack for PCI DSS 10.5.1); Looker Studio's date range narrows it further.
-- Rows are deduplicated inline (the BigQuery subscription delivers at least once).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
)
SELECT
  DATE(event_time) AS day,
  COALESCE(actor_email, actor_subject, '(anonymous)') AS actor,
  actor_type,
  auth_method,
  COUNT(*) AS events,
  COUNTIF(event_type = 'mcp_request' AND mcp_method = 'tools/call') AS tool_calls,
  COUNTIF(decision = 'deny') AS denied,
  COUNTIF(decision = 'mask') AS masked,
  COUNTIF(decision = 'approval_required') AS approval_required,
  COUNTIF(privileged) AS privileged,
  COUNTIF(event_type = 'auth_failure') AS auth_failures,
  COUNTIF(outcome IN ('error', 'failure')) AS errors,
  SUM(IFNULL(rows_returned, 0)) AS rows_returned,
  SUM(IFNULL(bytes_returned, 0)) AS bytes_returned,
  COUNT(DISTINCT session_id) AS sessions,
  COUNT(DISTINCT target_table) AS tables_touched,
  MIN(event_time) AS first_event,
  MAX(event_time) AS last_event
FROM ev
WHERE event_type NOT IN ('checkpoint', 'gateway_start', 'gateway_stop')
GROUP BY day, actor, actor_type, auth_method
