// Stage: the second line of masking. The engine already masked what it reads (rewrite); the
// response is masked again by the plan (direct outputs, idempotent methods) and scanned by the
// detectors; the audit copy is masked whatever the caller was cleared to see; the caller is told
// what was masked.
import type { Analysis } from '../../sql/types.js';
import type { MaskPlan } from '../../masking/types.js';
import type { Stage } from '../call.js';
import { maskingNotice, storedCopyNote } from '../masking-notice.js';
import { approvalNotice } from '../approval-notice.js';

const DETECTORS_ONLY: MaskPlan = { columns: [], fallback: [], detectors: true };

/** The output columns of the one result-producing statement, so masking can detect a result whose shape differs. */
function outputShape(analysis: Analysis | null): { index: number; name: string }[] | null {
  const [one, ...more] = (analysis?.statements ?? []).filter((s) => s.output);
  if (!one?.output || more.length > 0) return null;
  return one.output.map((o) => ({ index: o.index, name: o.name }));
}

/** Audit-at-rest masking for what the client plan left clear (cleared roles, undetected values). */
function auditOnlyPlan(client: MaskPlan, audit: MaskPlan, shape: { index: number; name: string }[] | null): MaskPlan {
  // Masked for the client already: plan columns, and values the engine computed from masked ones.
  const covered = new Set([...client.columns.map((c) => c.outputIndex), ...(client.derived ?? []).map((d) => d.outputIndex)]);
  // The client pass already ran the detectors over everything it did not mask: a second scan of
  // its output finds nothing new, so the audit pass scans only when the client pass did not.
  return { columns: audit.columns.filter((c) => !covered.has(c.outputIndex)), fallback: audit.fallback, detectors: !client.detectors, ...(shape ? { outputColumns: shape } : {}) };
}

export const mask: Stage = {
  name: 'mask',
  run(kit, call) {
    const columnsOut = outputShape(call.analysis);
    // Detectors run on every response, even when policy masks nothing.
    const clientPlan: MaskPlan = { ...(call.decision?.maskPlan ?? DETECTORS_ONLY), ...(columnsOut ? { outputColumns: columnsOut } : {}) };
    const { result, report } = kit.mask(call.upstream!, clientPlan);
    call.clientPlan = clientPlan;
    call.report = report;
    const auditPlan = auditOnlyPlan(clientPlan, call.policy.auditPlan(call.analysis, call.catalog), columnsOut);
    // Nothing more to mask at rest (every classified column already masked for the client, the
    // detectors already run, the result shaped as analysed): the stored copy is the released one.
    const nothingMore = auditPlan.columns.length === 0 && !auditPlan.detectors && report.notes.length === 0;
    const stored = nothingMore ? { result, report: { maskedColumns: [], detectorHits: [], rows: report.rows, notes: [] } } : kit.mask(result, auditPlan);
    // The stored copy says, per column, what the caller received and what it holds itself.
    call.auditCopy = result.isError === true ? stored.result : storedCopyNote(stored.result, report, stored.report, clientPlan, columnsOut);
    // Tell the agent what it is looking at: masked values are not data to report as facts, and an
    // approved statement's answer says under which approval it ran and what it changed.
    const failed = result.isError === true;
    const noticed = failed ? result : maskingNotice(result, clientPlan, report);
    call.released = call.approved ? approvalNotice(noticed, call.approved, call.rowsAffected, failed) : noticed;
  },
};
