-- Examiner question: who saw each classified column, in clear or masked? ("who saw clear
-- SSNs last quarter"; FFIEC II.C.22 sensitive data; CAT tokenization; PCI DSS 10.2.1.1).
-- One row per released tool call and referenced source column. A column counts as masked in
-- a call when one of the call's masked_columns names it as a source; otherwise the caller saw
-- it in clear. The classification comes from the masking rules: a column's classification is
-- the one recorded whenever any call in the window masked it, so a column that nobody had
-- masked in the window shows classification NULL (see docs/examiner.md).
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND event_type = 'mcp_request'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
),
released AS (
  SELECT *
  FROM ev
  WHERE decision IN ('allow', 'mask', 'approval_required')
    AND outcome = 'success'
),
masked_sources AS (
  SELECT e.event_id, TRIM(src) AS source_column, m.classification, m.method, m.rule_id
  FROM released AS e, UNNEST(e.masked_columns) AS m, UNNEST(SPLIT(IFNULL(m.source, ''), ',')) AS src
  WHERE TRIM(src) != ''
),
classes AS (
  SELECT source_column, ANY_VALUE(classification) AS classification
  FROM masked_sources
  GROUP BY source_column
)
SELECT
  e.event_time,
  DATE(e.event_time) AS day,
  COALESCE(e.actor_email, e.actor_subject) AS actor,
  e.actor_type,
  ARRAY_TO_STRING(e.actor_roles, ',') AS roles,
  col AS source_column,
  ARRAY_REVERSE(SPLIT(col, '.'))[SAFE_OFFSET(0)] AS column_name,
  e.target_table,
  c.classification,
  IF(ms.event_id IS NULL, 'clear', 'masked') AS visibility,
  ms.method AS mask_method,
  ms.rule_id AS mask_rule_id,
  e.rows_returned,
  e.session_id,
  e.event_id,
  e.policy_version
FROM released AS e
CROSS JOIN UNNEST(e.target_columns) AS col
LEFT JOIN classes AS c ON c.source_column = col
LEFT JOIN masked_sources AS ms ON ms.event_id = e.event_id AND ms.source_column = col
