-- Examiner question: is the trail intact? (NIST AU-9, AU-10; FFIEC II.C.22 integrity). One
-- row per hash chain (gateway instance run) in the window: sequence gaps found with LAG over
-- seq, duplicate deliveries (same event twice: expected, at-least-once) versus conflicting
-- duplicates (two different events claiming one seq: tampering), links whose prev_hash is not
-- the previous event's hash, and checkpoint coverage (events after the last signed checkpoint).
-- This reads the raw table without deduplication on purpose. Signatures themselves are checked
-- by `bqwarden verify --bigquery`, which this view does not replace.
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH raw AS (
  SELECT chain_id, seq, `hash`, prev_hash, event_type, event_time, signature, signing_key_id
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
),
per_seq AS (
  SELECT
    chain_id,
    seq,
    COUNT(*) AS copies,
    COUNT(DISTINCT `hash`) AS versions,
    ANY_VALUE(`hash`) AS `hash`,
    ANY_VALUE(prev_hash) AS prev_hash,
    ANY_VALUE(event_type) AS event_type,
    MIN(event_time) AS event_time,
    LOGICAL_OR(signature IS NOT NULL) AS signed,
    ANY_VALUE(signing_key_id) AS signing_key_id
  FROM raw
  GROUP BY chain_id, seq
),
linked AS (
  SELECT
    *,
    LAG(seq) OVER (PARTITION BY chain_id ORDER BY seq) AS prev_seq,
    LAG(`hash`) OVER (PARTITION BY chain_id ORDER BY seq) AS prev_event_hash
  FROM per_seq
)
SELECT
  chain_id,
  MIN(seq) AS first_seq,
  MAX(seq) AS last_seq,
  COUNT(*) AS events,
  MIN(event_time) AS first_event_time,
  MAX(event_time) AS last_event_time,
  COUNTIF(prev_seq IS NOT NULL AND seq - prev_seq > 1) AS gaps,
  SUM(IF(prev_seq IS NOT NULL AND seq - prev_seq > 1, seq - prev_seq - 1, 0)) AS missing_events,
  SUM(copies - 1) AS duplicate_rows,
  COUNTIF(versions > 1) AS conflicting_duplicates,
  COUNTIF(prev_seq IS NOT NULL AND seq = prev_seq + 1 AND prev_hash != prev_event_hash) AS broken_links,
  COUNTIF(event_type = 'checkpoint') AS checkpoints,
  COUNTIF(event_type = 'checkpoint' AND NOT signed) AS unsigned_checkpoints,
  MAX(IF(event_type = 'checkpoint', seq, NULL)) AS last_checkpoint_seq,
  MAX(seq) - IFNULL(MAX(IF(event_type = 'checkpoint', seq, NULL)), MIN(seq) - 1) AS events_after_last_checkpoint,
  STRING_AGG(DISTINCT signing_key_id, ',') AS signing_keys,
  LOGICAL_OR(event_type = 'gateway_stop') AS stopped,
  (
    COUNTIF(prev_seq IS NOT NULL AND seq - prev_seq > 1) = 0
    AND COUNTIF(versions > 1) = 0
    AND COUNTIF(prev_seq IS NOT NULL AND seq = prev_seq + 1 AND prev_hash != prev_event_hash) = 0
  ) AS intact
FROM linked
GROUP BY chain_id
