-- Example dashboard view: decisions per day, actor and rule. Deployed by the module's
-- for_each over views/*.sql and dashboards/views/*.sql; placeholders are filled by
-- templatefile(): ${project}, ${dataset}, ${table}.
SELECT
  DATE(event_time) AS day,
  actor_email,
  decision,
  rule_id,
  COUNT(DISTINCT event_id) AS events
FROM `${project}.${dataset}.${table}`, UNNEST(IF(ARRAY_LENGTH(rule_ids) = 0, [CAST(NULL AS STRING)], rule_ids)) AS rule_id
WHERE event_type = 'mcp_request'
  AND event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
GROUP BY day, actor_email, decision, rule_id
