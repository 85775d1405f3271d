-- Examiner question: who asked for each privileged or destructive change, who approved it,
-- how long it waited, and was segregation of duties kept? (FFIEC II.C.7(c); CAT D3.PC.Am.B.2,
-- D3.DC.An.B.5, D3.PC.Im.B.7). One row per privileged statement that ran or was held, joined to
-- its approval request and grants through approval_id.
--
-- Two flags prove the controls held; both must always be FALSE:
--   self_approved: the requester appears among the approvers (the gateway refuses this);
--   text_differs:  the executed statement's sql_sha256 differs from the approved request's
--                  (approvals bind the exact text, so any edit needs a new approval).
-- A privileged statement that ran without an approval shows approval_id NULL and is flagged
-- unapproved = TRUE when policy had asked for one (decision approval_required).
-- Placeholders ${project}, ${dataset}, ${table}: the raw audit table (templatefile()).
WITH ev AS (
  SELECT *
  FROM `${project}.${dataset}.${table}`
  WHERE event_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 400 DAY)
    AND (privileged OR approval_id IS NOT NULL)
  QUALIFY ROW_NUMBER() OVER (PARTITION BY event_time, event_id ORDER BY publish_time) = 1
),
requested AS (
  SELECT
    approval_id,
    ANY_VALUE(approval_requester) AS requester,
    ANY_VALUE(sql_sha256) AS requested_sha256,
    MIN(event_time) AS requested_at,
    ANY_VALUE(approvals_required) AS approvals_required,
    ANY_VALUE(justification) AS justification,
    ANY_VALUE(approval_expires_at) AS expires_at
  FROM ev
  WHERE event_type = 'approval_requested'
  GROUP BY approval_id
),
granted AS (
  SELECT
    approval_id,
    ARRAY_AGG(DISTINCT COALESCE(actor_email, actor_subject) IGNORE NULLS) AS approvers,
    COUNT(*) AS grants,
    MAX(event_time) AS approved_at
  FROM ev
  WHERE event_type = 'approval_granted'
  GROUP BY approval_id
),
closed AS (
  SELECT approval_id, ANY_VALUE(event_type) AS closing_event, MAX(event_time) AS closed_at
  FROM ev
  WHERE event_type IN ('approval_rejected', 'approval_expired')
  GROUP BY approval_id
),
executed AS (
  SELECT *
  FROM ev
  WHERE event_type = 'mcp_request'
    AND privileged
    AND outcome != 'pending'
)
SELECT
  COALESCE(x.event_time, r.requested_at) AS event_time,
  DATE(COALESCE(x.event_time, r.requested_at)) AS day,
  COALESCE(r.approval_id, x.approval_id) AS approval_id,
  COALESCE(r.requester, x.approval_requester, x.actor_email, x.actor_subject) AS requester,
  COALESCE(x.actor_email, x.actor_subject) AS executed_by,
  ARRAY_TO_STRING(IFNULL(g.approvers, x.approval_approvers), ', ') AS approvers,
  r.approvals_required,
  IFNULL(g.grants, 0) AS grants,
  r.justification,
  ARRAY_TO_STRING(x.statement_kinds, ',') AS statement_kinds,
  x.target_table,
  x.sql_text,
  r.requested_sha256,
  x.sql_sha256 AS executed_sha256,
  r.requested_at,
  g.approved_at,
  x.event_time AS executed_at,
  TIMESTAMP_DIFF(g.approved_at, r.requested_at, SECOND) AS approval_latency_s,
  TIMESTAMP_DIFF(x.event_time, g.approved_at, SECOND) AS execution_delay_s,
  c.closing_event,
  x.outcome AS execution_outcome,
  x.decision,
  CASE
    WHEN x.event_id IS NULL THEN IFNULL(c.closing_event, 'pending')
    WHEN x.decision = 'deny' THEN 'denied'
    ELSE 'executed'
  END AS status,
  EXISTS (
    SELECT 1 FROM UNNEST(IFNULL(g.approvers, x.approval_approvers)) AS a
    WHERE a = COALESCE(r.requester, x.approval_requester)
  ) AS self_approved,
  (x.event_id IS NOT NULL AND r.approval_id IS NOT NULL AND IFNULL(x.sql_sha256, '') != IFNULL(r.requested_sha256, '')) AS text_differs,
  (x.event_id IS NOT NULL AND x.decision = 'approval_required' AND x.outcome = 'success' AND r.approval_id IS NULL) AS unapproved,
  x.session_id,
  x.event_id
FROM executed AS x
FULL OUTER JOIN requested AS r ON r.approval_id = x.approval_id
LEFT JOIN granted AS g ON g.approval_id = COALESCE(r.approval_id, x.approval_id)
LEFT JOIN closed AS c ON c.approval_id = COALESCE(r.approval_id, x.approval_id)
