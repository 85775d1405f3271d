// The gate the pipeline calls when policy says a statement needs approval. It never forwards
// anything itself: it either hands back an approval this exact call may consume (and records
// the consumption first), or the tool result that tells the agent what is pending.
import type { ApprovalGate, GateResult, HeldCall } from '../pipeline/deps.js';
import { GatewayError } from '../common/errors.js';
import { contextFields } from '../audit/actor.js';
import type { Identity } from '../identity/types.js';
import type { Dialect } from '../sql/types.js';
import type { Logger } from '../ops/logger.js';
import type { ApprovalsConfig } from './config.js';
import { actorOf, argsSha256, callBinding, sha256 } from './binding.js';
import { isOpen } from './reduce.js';
import { ApprovalError, SYSTEM_ACTOR, iso, recordFields, type ApprovalService } from './service.js';
import type { Notifier } from './notify.js';
import type { ApprovalRecord } from './types.js';
import type { ClaimStore } from './claims.js';
import { sqlTextForAudit } from '../audit/sql-text.js';

const WAIT_META_KEY = 'bqwarden/wait_for_approval';
export const APPROVAL_META_KEY = 'bqwarden/approval';

/** The slice of policy the gate needs; the optional parts make the audit text match the pipeline's. */
export interface ApprovalPolicyView {
  rolesFor(identity: Identity): string[];
  keepLiterals?(roles: string[]): boolean;
  analyzeOptions?(tool: string): { dialect: Dialect } | null;
  toolShape?(tool: string): { sqlArgument: string | null } | null;
}

export interface GateDeps {
  service: ApprovalService;
  policy: () => ApprovalPolicyView;
  sql?: { redactLiterals(sql: string, dialect: Dialect): string };
  notifier: Notifier;
  config: ApprovalsConfig;
  /** Where an approver reviews a request: the web page, and the CLI command lines (pasteable as printed). */
  urls: { review(id: string): string; cli(id: string, action?: 'show' | 'approve' | 'reject'): string; cliNote?: string | null };
  log: Logger;
  /** Create-once claims shared by every instance (exactly-once use across instances). */
  claims: ClaimStore;
  /** This instance, recorded in the claim. */
  instance: string;
}

function auditError(err: unknown): never {
  if (err instanceof ApprovalError && err.code === 'audit_unavailable') {
    throw GatewayError.of('audit_unavailable', err.message);
  }
  throw err;
}

const statusOf = (r: ApprovalRecord): ApprovalRecord['status'] => r.status;

function sameRoles(a: string[], b: string[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export function createApprovalGate(deps: GateDeps): ApprovalGate & { waitSeconds(call: HeldCall): number } {
  const { service, config } = deps;

  /** The statement as the audit stores it: the same rule as the pipeline (literals only where policy keeps them). */
  function auditSqlText(call: HeldCall): string {
    const policy = deps.policy();
    const dialect = policy.analyzeOptions?.(call.tool)?.dialect ?? call.analysis.dialect;
    const sql = deps.sql;
    return sqlTextForAudit(call.sql, policy.keepLiterals?.(call.roles) === true, sql ? (s) => sql.redactLiterals(s, dialect) : null);
  }

  function sqlArgument(call: HeldCall): string | null {
    // The upstream's kind says which argument carries the statement; a tool policy no longer
    // describes binds every argument, the SQL's too (stricter, never looser).
    return deps.policy().toolShape?.(call.tool)?.sqlArgument ?? null;
  }

  function waitSeconds(call: HeldCall): number {
    const max = config.wait.maxSeconds;
    const hint = call.meta?.[WAIT_META_KEY];
    if (hint === true) return max;
    if (hint === false) return 0;
    if (typeof hint === 'number' && Number.isFinite(hint) && hint >= 0) return Math.min(hint, max);
    return config.wait.enabled ? max : 0;
  }

  function approvalMeta(rec: ApprovalRecord) {
    return {
      id: rec.id,
      status: service.status(rec),
      approvals: rec.approvals.length,
      required: rec.required,
      approver_roles: rec.approverRoles,
      expires_at: rec.expiresAt,
      sql_sha256: rec.sqlSha256,
      review_url: deps.urls.review(rec.id),
      cli: deps.urls.cli(rec.id),
    };
  }

  function toolResult(text: string, rec: ApprovalRecord): Record<string, unknown> {
    // isError so agents do not mistake "held" for "done"; details for programs go in _meta
    // (not structuredContent, which clients validate against the upstream tool's outputSchema).
    return { content: [{ type: 'text', text }], isError: true, _meta: { [APPROVAL_META_KEY]: approvalMeta(rec) } };
  }

  function describe(rec: ApprovalRecord): string {
    const kinds = (rec.statementKinds.length ? rec.statementKinds : rec.statementTypes).join(', ').toUpperCase();
    return `${kinds} on ${rec.tables.join(', ') || '(no table)'}`;
  }

  /** How an approver gets to it: the page, then the CLI lines, each pasteable as printed. */
  function reviewLines(rec: ApprovalRecord): string[] {
    return [
      `An approver reviews it at ${deps.urls.review(rec.id)}`,
      `or in a terminal${deps.urls.cliNote ? ` (${deps.urls.cliNote})` : ''}:`,
      `  ${deps.urls.cli(rec.id, 'show')}`,
      `  ${deps.urls.cli(rec.id, 'approve')}`,
      `  ${deps.urls.cli(rec.id, 'reject')}`,
    ];
  }

  function pending(rec: ApprovalRecord, note: string | null): GateResult {
    const lines = [
      `Approval required before this statement runs: ${describe(rec)}. ${rec.policyReason ?? ''}`.trim(),
      `Request ${rec.id} is pending: ${rec.approvals.length} of ${rec.required} approval${rec.required > 1 ? 's' : ''} from role ${rec.approverRoles.join(' or ')} (distinct people, not the requester). It expires at ${rec.expiresAt}.`,
      ...(note ? [note] : []),
      `Nothing was executed. Once approved, re-run this exact call (same user, same tool, identical SQL text and arguments) and it executes once. A changed statement needs a new approval.`,
      ...reviewLines(rec),
    ];
    const message = `approval ${rec.id} pending (${rec.approvals.length}/${rec.required})`;
    return { status: 'pending', approvalId: rec.id, result: toolResult(lines.join('\n'), rec), message };
  }

  function votesText(rec: ApprovalRecord): string {
    return rec.approvals.map((v) => `${v.actor.display}${v.reason ? ` ("${v.reason}")` : ''}`).join(', ') || 'nobody';
  }

  const AGAIN = 're-run it with a new justification (arguments.justification) that says why; that opens a new approval request';

  /**
   * A re-run of a statement that already ran, or was turned down: the answer is that status,
   * not a new request (a duplicate an approver cannot tell apart from the first).
   */
  function settledAnswer(rec: ApprovalRecord): GateResult {
    if (service.status(rec) === 'rejected') {
      const r = rec.rejection;
      const text = [
        `Request ${rec.id} (${describe(rec)}) was rejected${r ? ` by ${r.actor.display} at ${r.at}: ${r.reason ?? '(no reason)'}` : ''}. Nothing was executed.`,
        `To ask again, change the statement, or ${AGAIN}.`,
      ].join('\n');
      return { status: 'rejected', approvalId: rec.id, result: toolResult(text, rec), message: `approval ${rec.id} rejected; re-run answered with its status` };
    }
    const x = rec.execution;
    const ran = x
      ? `ran at ${x.at} (${x.outcome}${x.rowsAffected !== null ? `, ${x.rowsAffected} row${x.rowsAffected === 1 ? '' : 's'} affected` : ''})`
      : `was taken for execution at ${rec.claimedAt ?? '?'} by another call`;
    const text = [
      `Request ${rec.id} (${describe(rec)}) already ${ran}, approved by ${votesText(rec)}. Nothing was executed this time: an approval runs its statement once.`,
      `To run the statement again, ${AGAIN}.`,
    ].join('\n');
    return { status: 'executed', approvalId: rec.id, result: toolResult(text, rec), message: `approval ${rec.id} already used; re-run answered with its status` };
  }

  function closed(rec: ApprovalRecord): GateResult {
    const status = service.status(rec);
    if (status === 'rejected') {
      const by = rec.rejection ? `${rec.rejection.actor.display}: ${rec.rejection.reason ?? '(no reason)'}` : 'a reviewer';
      const text = `Request ${rec.id} (${describe(rec)}) was rejected by ${by}. Nothing was executed. To ask again, change the statement, or ${AGAIN}.`;
      return { status: 'rejected', approvalId: rec.id, result: toolResult(text, rec), message: `approval ${rec.id} rejected` };
    }
    const text = `Request ${rec.id} (${describe(rec)}) expired at ${rec.expiresAt} without being executed. Nothing was executed. Re-running the call opens a new request.`;
    return { status: 'expired', approvalId: rec.id, result: toolResult(text, rec), message: `approval ${rec.id} expired` };
  }

  /** What happened to the last request for this binding, for the agent's benefit. */
  function previousNote(prev: ApprovalRecord | undefined): string | null {
    if (!prev) return null;
    const s = service.status(prev);
    if (s === 'rejected')
      return `Your previous request ${prev.id} for this statement was rejected by ${prev.rejection?.actor.display ?? 'a reviewer'}: ${prev.rejection?.reason ?? '(no reason)'}. This is a new request, with your new justification.`;
    if (s === 'expired') return `Your previous request ${prev.id} for this statement expired at ${prev.expiresAt}.`;
    if (s === 'executed')
      return `Your previous approval ${prev.id} for this statement already ran it once (each approval runs the statement once). This is a new request, with your new justification.`;
    return null;
  }

  const held = new Set<string>();

  function usedElsewhere(rec: ApprovalRecord): GateResult {
    const text = `Approval ${rec.id} (${describe(rec)}) was already used through another gateway instance; each approval runs the statement once. Nothing was executed here. To run the statement again, ${AGAIN}.`;
    return { status: 'used', approvalId: rec.id, result: toolResult(text, rec), message: `approval ${rec.id} already claimed by another instance` };
  }

  /**
   * Consumes an approval: first the create-once claim every instance shares (exactly one wins),
   * then the claim event, durable before the statement is forwarded.
   */
  async function claim(rec: ApprovalRecord, call: HeldCall): Promise<GateResult | null> {
    return service.withLock(rec.id, async () => {
      if (await service.expireLocked(rec)) return closed(rec);
      if (rec.status !== 'approved') return null;
      // A claim this instance won but could not record (audit write failed) is still ours: the
      // retry reuses it. Any other instance finds it taken, so the approval runs at most once.
      let won = held.has(rec.id);
      try {
        if (!won) won = await deps.claims.claim(rec.id, { instance: deps.instance, session_id: call.ctx.sessionId, request_id: call.ctx.requestId, at: iso(service.now()) });
      } catch (err) {
        throw GatewayError.of(
          'approval_claims_unavailable',
          `the approval claim store ${deps.claims.name} could not be reached, so the approved statement is not executed (fail closed): ${(err as Error).message}`,
        );
      }
      if (!won) return usedElsewhere(rec);
      held.add(rec.id);
      await service.append({
        event_type: 'approval_executed',
        ...contextFields(call.ctx, call.roles),
        ...recordFields(rec),
        mcp_method: 'tools/call',
        decision: 'approval_required',
        outcome: 'pending',
        decision_reason: `approval consumed by ${rec.requester.display}; the approved statement is being forwarded`,
      });
      held.delete(rec.id);
      // Re-read through a function: the append changed the status behind TypeScript's narrowing.
      if (statusOf(rec) !== 'executed') return null;
      return {
        status: 'approved',
        approvalId: rec.id,
        requester: rec.requester.display,
        approvers: rec.approvals.map((v) => v.actor.display),
        required: rec.required,
        votes: rec.approvals.map((v) => ({ by: v.actor.display, reason: v.reason })),
      } satisfies GateResult;
    });
  }

  async function create(call: HeldCall, sha: string, argsHash: string): Promise<ApprovalRecord> {
    const req = call.decision.approval!;
    const identity = call.ctx.identity;
    const requester = actorOf(identity, call.roles);
    const id = service.newId();
    const expiresIn = req.expiresInSeconds > 0 ? req.expiresInSeconds : config.defaultExpirySeconds;
    const tables = [...new Set(call.analysis.statements.flatMap((s) => [...s.tablesWritten, ...s.tablesRead].map((t) => t.fq)))];
    const sqlArg = sqlArgument(call);
    // Exact text first: an approval_requested event then always has a reviewable statement.
    try {
      await service.deps.statements.put(id, sha, call.sql);
    } catch (err) {
      deps.log.error({ err: (err as Error).message, approval_id: id }, 'could not keep the exact statement for review');
      throw GatewayError.of('approval_store_unavailable', `the statement could not be held for approval (statement store failed), so it is denied: ${(err as Error).message}`);
    }
    const ev = await service
      .append({
        event_type: 'approval_requested',
        ...contextFields(call.ctx, call.roles),
        mcp_method: 'tools/call',
        tool_name: call.tool,
        target_table: tables[0] ?? null,
        target_tables: tables,
        statement_types: [...new Set(call.analysis.statements.map((s) => s.class))],
        statement_kinds: [...new Set(call.analysis.statements.map((s) => s.kind))],
        sql_text: auditSqlText(call),
        sql_sha256: sha,
        sql_fingerprint: call.analysis.fingerprint,
        privileged: true,
        justification: call.justification,
        decision: 'approval_required',
        rule_ids: call.decision.ruleIds,
        decision_reason: call.decision.message,
        outcome: 'pending',
        approval_id: id,
        approval_requester: requester.display,
        approval_approvers: [],
        approvals_required: req.required,
        approval_expires_at: iso(service.now() + expiresIn * 1000),
        // The binding's other half, for the fold: who may approve and which arguments.
        request_json: JSON.stringify({
          approval: { approver_roles: req.approverRoles, args_sha256: argsHash, rule_id: req.ruleId },
          arguments: Object.fromEntries(Object.entries(call.args).map(([k, v]) => [k, k === sqlArg ? '(see sql_text)' : v])),
          name: call.tool,
        }),
      })
      .catch(async (err) => {
        await service.deps.statements.delete(id).catch(() => undefined);
        auditError(err);
      });
    const rec = service.get(id);
    if (!rec || rec.requestEventId !== ev.event_id) throw GatewayError.of('approval_state', `approval request ${id} was written but could not be read back; denied`);
    deps.notifier.notify(rec);
    return rec;
  }

  /** Holds the call open until the request is decided, the time is up or the client cancels. */
  async function waitFor(rec: ApprovalRecord, seconds: number, call: HeldCall): Promise<void> {
    if (seconds <= 0 || call.ctx.signal.aborted) return;
    const started = service.now();
    await new Promise<void>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t), clearInterval(t);
        off();
        call.ctx.signal.removeEventListener('abort', finish);
        resolve();
      };
      const off = service.onChange((r) => {
        if (r.id === rec.id && r.status !== 'pending') finish();
      });
      call.ctx.signal.addEventListener('abort', finish, { once: true });
      timers.push(setTimeout(finish, seconds * 1000));
      const untilExpiry = Date.parse(rec.expiresAt) - service.now();
      if (untilExpiry < seconds * 1000) {
        timers.push(
          setTimeout(
            () =>
              void service
                .expireIfDue(rec)
                .catch(() => undefined)
                .finally(finish),
            Math.max(0, untilExpiry),
          ),
        );
      }
      timers.push(
        setInterval(() => {
          const waited = Math.round((service.now() - started) / 1000);
          const msg = `waiting for approval ${rec.id}: ${rec.approvals.length} of ${rec.required} approvals (${deps.urls.review(rec.id)})`;
          call.ctx.sendProgress(waited, seconds, msg).catch(() => undefined);
        }, config.wait.progressIntervalSeconds * 1000),
      );
    });
  }

  async function decideAfterWait(rec: ApprovalRecord, call: HeldCall, note: string | null): Promise<GateResult> {
    if (rec.status === 'approved') {
      const got = await claim(rec, call).catch(auditError);
      if (got) return got;
    }
    if (isOpen(rec.status) && service.status(rec) === 'expired') await service.expireIfDue(rec).catch(auditError);
    if (!isOpen(rec.status) && rec.status !== 'executed') return closed(rec);
    if (rec.status === 'executed') return settledAnswer(rec); // claimed by a concurrent identical call
    return pending(rec, note);
  }

  return {
    waitSeconds,

    async check(call) {
      const sha = sha256(call.sql);
      if (call.analysis.sha256 && call.analysis.sha256 !== sha) {
        throw GatewayError.of('approval_binding', 'the analysed statement is not the statement in the call (sha256 differs); denied');
      }
      const req = call.decision.approval;
      if (!req || req.required < 1 || req.approverRoles.length === 0) {
        throw GatewayError.of('approval_misconfigured', `policy rule ${call.decision.ruleIds.join(', ')} asks for approval but names no approver roles or count; denied`);
      }
      const requester = actorOf(call.ctx.identity, call.roles);
      const argsHash = argsSha256(call.args, sqlArgument(call));
      const binding = callBinding({ requester, tool: call.tool, sqlSha256: sha, argsSha256: argsHash });
      if (binding === null) throw GatewayError.of('approval_binding', 'the caller has no subject to bind an approval to; denied');

      const found: { rec: ApprovalRecord; note: string | null; result?: GateResult } = await service.withLock(`bind\0${binding}`, async () => {
        const matching = [...(service.state.byBinding.get(binding) ?? [])].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
        // A request made under a different requirement (policy changed) does not satisfy this one.
        const usable = matching.filter((r) => r.required === req.required && sameRoles(r.approverRoles, req.approverRoles));
        for (const r of usable) {
          if (!isOpen(r.status)) continue;
          if (await service.expireIfDue(r).catch(auditError)) continue;
          if (r.status === 'approved') {
            const got = await claim(r, call).catch(auditError);
            if (got?.status === 'approved' || got?.status === 'used') return { rec: r, note: null, result: got };
            continue;
          }
          // Same call while pending: the same request, and its exact text restored if this
          // instance lost it (the hash proves this is the same text).
          if ((await service.exactText(r)) === null) await service.deps.statements.put(r.id, sha, call.sql).catch(() => undefined);
          return { rec: r, note: null };
        }
        // The statement already ran, or was turned down, and the requester gives no new reason:
        // answer with that status instead of opening a request an approver cannot tell apart.
        const last = matching[matching.length - 1];
        if (last && (call.justification ?? null) === (last.justification ?? null)) {
          const st = service.status(last);
          if (st === 'executed' || st === 'rejected') return { rec: last, note: null, result: settledAnswer(last) };
        }
        return { rec: await create(call, sha, argsHash), note: previousNote(last) };
      });
      if (found.result) return found.result;
      if (found.rec.status === 'pending') await waitFor(found.rec, waitSeconds(call), call);
      return decideAfterWait(found.rec, call, found.note);
    },

    async executed(call, approvalId, outcome, rowsAffected = null) {
      const rec = service.get(approvalId);
      if (!rec) {
        deps.log.error({ approval_id: approvalId }, 'executed() for an unknown approval');
        return;
      }
      const counted = rowsAffected !== null && rowsAffected !== undefined ? `; ${rowsAffected} row${rowsAffected === 1 ? '' : 's'} affected` : '';
      try {
        await service.append({
          event_type: 'approval_executed',
          ...contextFields(call.ctx, call.roles),
          ...recordFields(rec),
          // The executed text's own hash: equal to the approved one by construction, and shown.
          sql_sha256: sha256(call.sql),
          mcp_method: 'tools/call',
          decision: 'approval_required',
          outcome,
          decision_reason: `approved statement executed (${outcome}${counted}); approvers: ${rec.approvals.map((v) => v.actor.display).join(', ')}`,
          ...(rowsAffected !== null && rowsAffected !== undefined ? { response_json: JSON.stringify({ rows_affected: rowsAffected }) } : {}),
        });
      } catch (err) {
        // The call's own mcp_request event (with approval_id) is already durable; this one
        // completes the approval trail. Log loudly rather than withhold an executed result.
        deps.log.error({ err: (err as Error).message, approval_id: approvalId }, 'could not record approval execution outcome');
      }
      await supersede(rec);
    },
  };

  /**
   * Once a statement ran, other open requests for the very same call (made under another
   * requirement, or through another instance) are spent too: approving a stale duplicate must
   * not let the statement run a second time.
   */
  async function supersede(ran: ApprovalRecord): Promise<void> {
    const key = callBinding(ran);
    for (const other of [...(key === null ? [] : (service.state.byBinding.get(key) ?? []))]) {
      if (other.id === ran.id || !isOpen(other.status)) continue;
      await service
        .withLock(other.id, async () => {
          if (!isOpen(other.status)) return;
          await service.append({
            event_type: 'approval_rejected',
            ...SYSTEM_ACTOR,
            actor_subject: 'bqwarden',
            ...recordFields(other),
            decision: 'deny',
            outcome: 'denied',
            decision_reason: `superseded: the same statement already ran under ${ran.id} at ${ran.execution?.at ?? ran.claimedAt ?? '?'}; this request can no longer run it`,
          });
        })
        .catch((err: Error) => deps.log.error({ err: err.message, approval_id: other.id }, 'could not close a duplicate of an executed approval'));
    }
  }
}
