-- Examiner question: what sensitive output did masking and the content detectors catch, for
-- whom, by which rule and method? (CAT "tokenization is used…"; FFIEC II.C.22; PCI DSS 3.4 /
-- 10.2.1.1). One row per day, actor, hit kind (column mask or detector) and its details.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND event_type = 'mcp_request'
    AND (ARRAY_LENGTH(masked_columns) > 0 OR ARRAY_LENGTH(detector_hits) > 0)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
),
hits AS (
  SELECT e.event_time, e.actor_email, e.actor_subject, e.actor_type, e.target_table, e.event_id,
    'column_mask' AS hit_kind, m.classification AS label, m.method, m.rule_id, m.column AS output_column, 1 AS hits
  FROM ev AS e, UNNEST(e.masked_columns) AS m
  UNION ALL
  SELECT e.event_time, e.actor_email, e.actor_subject, e.actor_type, e.target_table, e.event_id,
    'detector' AS hit_kind, d.detector AS label, CAST(NULL AS STRING) AS method, CAST(NULL AS STRING) AS rule_id, CAST(NULL AS STRING) AS output_column, d.count AS hits
  FROM ev AS e, UNNEST(e.detector_hits) AS d
  WHERE d.count > 0
)
SELECT
  DATE(event_time) AS day,
  COALESCE(actor_email, actor_subject) AS actor,
  actor_type,
  hit_kind,
  label,
  method,
  rule_id,
  target_table,
  COUNT(DISTINCT event_id) AS requests,
  SUM(hits) AS hits
FROM hits
GROUP BY day, actor, actor_type, hit_kind, label, method, rule_id, target_table
