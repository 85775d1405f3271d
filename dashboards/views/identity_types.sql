-- Examiner question: which activity came from people, and which from CI jobs, agents and
-- service identities; are non-human identities kept to what they are for? (CAT D3.PC.Am.B.3
-- privileges assigned to individuals; FFIEC II.C.7(b)). One row per UTC day, actor type,
-- actor and how they authenticated.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND event_type IN ('mcp_request', 'session_start', 'auth_failure')
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
)
SELECT
  DATE(event_time) AS day,
  actor_type,
  auth_method,
  COALESCE(actor_email, actor_subject, '(anonymous)') AS actor,
  ARRAY_TO_STRING(ANY_VALUE(actor_roles), ',') AS roles,
  ANY_VALUE(client_name) AS client_name,
  COUNTIF(event_type = 'session_start') AS sessions,
  COUNTIF(event_type = 'mcp_request' AND mcp_method = 'tools/call') AS tool_calls,
  COUNTIF(decision = 'deny') AS denied,
  COUNTIF(privileged) AS privileged,
  COUNTIF(event_type = 'auth_failure') AS auth_failures,
  SUM(IFNULL(rows_returned, 0)) AS rows_returned
FROM ev
GROUP BY day, actor_type, auth_method, actor
