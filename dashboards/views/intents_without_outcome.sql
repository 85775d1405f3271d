-- Examiner question: did any call reach the upstream without a recorded outcome? (NIST AU-9,
-- AU-12; FFIEC II.C.22 log completeness). A write-ahead intent (event_type mcp_intent) is made
-- durable BEFORE a call that may change data (and any call while the audit sink was unhealthy)
-- is sent upstream; the call's outcome event names it in intent_id. One row per intent with no
-- such outcome: the gateway crashed or its audit sink failed after the call was forwarded.
-- Intents younger than 10 minutes are left out (the call may still be running upstream; the
-- gateway's upstream timeout is 60 s by default). Look these calls up in the upstream's own
-- history (BigQuery job history by time and principal). Duplicate deliveries count once.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH recent AS (
  SELECT event_id, event_type, intent_id, event_time, chain_id, seq, gateway_instance, actor_email, actor_subject,
    session_id, request_id, tool_name, mcp_method, target_table, sql_fingerprint, sql_sha256, decision, privileged
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
),
intents AS (
  SELECT
    event_id,
    ANY_VALUE(event_time) AS event_time,
    ANY_VALUE(chain_id) AS chain_id,
    ANY_VALUE(seq) AS seq,
    ANY_VALUE(gateway_instance) AS gateway_instance,
    ANY_VALUE(COALESCE(actor_email, actor_subject)) AS actor,
    ANY_VALUE(session_id) AS session_id,
    ANY_VALUE(request_id) AS request_id,
    ANY_VALUE(COALESCE(tool_name, mcp_method)) AS call,
    ANY_VALUE(target_table) AS target_table,
    ANY_VALUE(sql_fingerprint) AS sql_fingerprint,
    ANY_VALUE(sql_sha256) AS sql_sha256,
    ANY_VALUE(decision) AS decision,
    LOGICAL_OR(privileged) AS privileged
  FROM recent
  WHERE event_type = 'mcp_intent'
  GROUP BY event_id
),
completed AS (
  SELECT DISTINCT intent_id FROM recent WHERE intent_id IS NOT NULL
)
SELECT
  i.event_id AS intent_event_id,
  i.event_time,
  i.chain_id,
  i.seq,
  i.gateway_instance,
  i.actor,
  i.session_id,
  i.request_id,
  i.call,
  i.target_table,
  i.sql_fingerprint,
  i.sql_sha256,
  i.decision,
  i.privileged,
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), i.event_time, MINUTE) AS age_minutes
FROM intents AS i
LEFT JOIN completed AS c ON c.intent_id = i.event_id
WHERE c.intent_id IS NULL
  AND i.event_time < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 10 MINUTE)
