// Tool-definition pinning, against tool poisoning and "rug pulls": an upstream that changes what
// a tool says (description), takes (input schema) or claims about itself (annotations) after
// people started trusting it. The first definition the gateway sees of a tool is pinned
// (audited as tool_pinned); a later, different definition withholds the tool from tools/list
// and refuses its calls (rule tool-pinning) until an approver accepts the new definition
// through the approval doors (an approval_* request like a held statement, with the same
// independence rules), which pins it as the tool's next record.
import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import type { Logger } from '../ops/logger.js';
import type { RequestContext } from '../pipeline/types.js';
import type { PinVerdict, ToolPinsView } from '../pipeline/deps.js';
import { contextFields } from '../audit/actor.js';
import { SYSTEM_ACTOR, iso, recordFields, type ApprovalService } from '../approvals/service.js';
import { isOpen } from '../approvals/reduce.js';
import type { ClaimStore } from '../approvals/claims.js';
import type { Notifier } from '../approvals/notify.js';
import type { ApprovalRecord } from '../approvals/types.js';
import { canonicalDefinition, changedFields, definitionOf, sha256Hex } from './definition.js';
import type { PinStore, ToolPin } from './store.js';

const PIN_RULE = 'tool-pinning';
/** statement_kinds of an approval request that accepts a changed tool definition. */
const PIN_KIND = 'tool_definition_change';
const GATEWAY: Partial<AuditEventInput> = { ...SYSTEM_ACTOR, actor_subject: 'bqwarden', mcp_method: 'tools/pin' };

export interface ToolPinsDeps {
  store: PinStore;
  /** The upstream whose tools are pinned (its name, as audit events record it). */
  upstream: string;
  audit: { append(input: AuditEventInput): Promise<AuditEvent> };
  /** The approval doors; without them a changed tool stays refused. */
  approvals: { service: ApprovalService; notifier: Notifier; claims: ClaimStore; urls: { review(id: string): string; cli(id: string, action?: 'show' | 'approve' | 'reject'): string } } | null;
  approverRoles: string[];
  required: number;
  expirySeconds: number;
  refreshMs: number;
  instance: string;
  log: Logger;
  now?: () => number;
}

interface Seen {
  text: string;
  sha: string;
}

function isPinApproval(rec: Pick<ApprovalRecord, 'statementKinds'>): boolean {
  return rec.statementKinds.includes(PIN_KIND);
}

export class ToolPins implements ToolPinsView {
  private readonly now: () => number;
  /** The upstream's tools as last listed, and when. */
  private listed: { at: number; tools: Map<string, Seen> } | null = null;
  private readonly pins = new Map<string, { at: number; pin: ToolPin | null }>();
  private unsubscribe: (() => void) | null = null;
  /** Approvals this instance claimed (create-once) and is still pinning. */
  private readonly claimed = new Set<string>();

  constructor(readonly deps: ToolPinsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Accepts changes as soon as their approval is granted (any instance; the claim picks one). */
  start(): void {
    const a = this.deps.approvals;
    if (!a) return;
    this.unsubscribe = a.service.onChange((rec) => {
      if (isPinApproval(rec) && rec.status === 'approved') {
        void this.accept(rec).catch((err: Error) => this.deps.log.error({ err: err.message, approval_id: rec.id }, 'tool pin: could not accept an approved definition; retried on next sight'));
      }
    });
  }

  close(): void {
    this.unsubscribe?.();
  }

  private remember(tools: Record<string, unknown>[]): Map<string, Seen> {
    const map = new Map<string, Seen>();
    for (const t of tools) {
      if (typeof t?.name !== 'string') continue;
      const text = canonicalDefinition(definitionOf(t));
      map.set(t.name, { text, sha: sha256Hex(text) });
    }
    this.listed = { at: this.now(), tools: map };
    return map;
  }

  private async pinOf(tool: string, fresh: boolean): Promise<ToolPin | null> {
    const c = this.pins.get(tool);
    if (!fresh && c && this.now() - c.at < this.deps.refreshMs) return c.pin;
    const pin = await this.deps.store.current(this.deps.upstream, tool);
    this.pins.set(tool, { at: this.now(), pin });
    return pin;
  }

  async onList(tools: Record<string, unknown>[], ctx: RequestContext, roles: string[]): Promise<Map<string, PinVerdict>> {
    const seen = this.remember(tools);
    const out = new Map<string, PinVerdict>();
    for (const [name, s] of seen) out.set(name, await this.verdict(name, s, ctx, roles));
    return out;
  }

  async onCall(tool: string, ctx: RequestContext, roles: string[], listTools: () => Promise<Record<string, unknown>[]>): Promise<PinVerdict> {
    let seen = this.listed && this.now() - this.listed.at < this.deps.refreshMs ? this.listed.tools.get(tool) : undefined;
    if (!seen) seen = this.remember(await listTools()).get(tool);
    if (!seen) {
      return {
        status: 'unlisted',
        message: `tool ${tool} is not in ${this.deps.upstream}'s tools/list, so its definition cannot be checked against its pin; refused (rule ${PIN_RULE})`,
      };
    }
    return this.verdict(tool, seen, ctx, roles);
  }

  private async verdict(tool: string, seen: Seen, ctx: RequestContext, roles: string[]): Promise<PinVerdict> {
    let pin = await this.pinOf(tool, false);
    if (pin?.sha256 === seen.sha) return { status: 'pinned', sha256: seen.sha };
    // A changed definition, or a pin this instance has not read yet: ask the store first.
    pin = await this.pinOf(tool, true);
    if (!pin) {
      pin = await this.firstSight(tool, seen, ctx, roles);
      if (pin.sha256 === seen.sha) return { status: 'pinned', sha256: seen.sha };
    }
    if (pin.sha256 === seen.sha) return { status: 'pinned', sha256: seen.sha };
    return this.changed(tool, seen, pin);
  }

  private async firstSight(tool: string, seen: Seen, ctx: RequestContext, roles: string[]): Promise<ToolPin> {
    const pin: ToolPin = {
      upstream: this.deps.upstream,
      tool,
      seq: 1,
      sha256: seen.sha,
      definition: seen.text,
      pinned_at: iso(this.now()),
      how: 'first_sight',
      approval_id: null,
      approved_by: [],
      instance: this.deps.instance,
    };
    if (!(await this.deps.store.create(pin))) return (await this.pinOf(tool, true)) ?? pin; // another instance pinned it first
    this.pins.set(tool, { at: this.now(), pin });
    // Written as the gateway's own act; the call that first saw the tool is named inside.
    const seenBy = contextFields(ctx, roles);
    await this.deps.audit.append({
      event_type: 'tool_pinned',
      ...GATEWAY,
      ...this.pinFields(pin, { session_id: seenBy.session_id ?? null, request_id: seenBy.request_id ?? null, actor: seenBy.actor_email ?? seenBy.actor_subject ?? null }),
      decision: 'allow',
      outcome: 'success',
      decision_reason: `first sight of tool ${tool} on upstream ${this.deps.upstream}: its definition is pinned (sha256 ${pin.sha256.slice(0, 12)}…); a later change withholds the tool until an approver accepts it`,
    });
    return pin;
  }

  private pinFields(pin: ToolPin, seenIn: Record<string, string | null> | null = null): Partial<AuditEventInput> {
    return {
      tool_name: pin.tool,
      upstream: pin.upstream,
      rule_ids: [PIN_RULE],
      approval_id: pin.approval_id,
      request_json: JSON.stringify({
        tool_pin: { seq: pin.seq, sha256: pin.sha256, how: pin.how, store: this.deps.store.name, ...(seenIn ? { first_seen_in: seenIn } : {}) },
        definition: JSON.parse(pin.definition) as unknown,
      }),
    };
  }

  /** The newest approval request for this exact definition of this tool. */
  private requestFor(tool: string, sha: string): ApprovalRecord | undefined {
    const all = [...(this.deps.approvals?.service.state.byId.values() ?? [])].filter((r) => isPinApproval(r) && r.tool === tool && r.sqlSha256 === sha);
    return all.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)).pop();
  }

  private async changed(tool: string, seen: Seen, pin: ToolPin): Promise<PinVerdict> {
    const fields = changedFields(pin.definition, seen.text);
    const head = `tool ${tool}: its definition on upstream ${this.deps.upstream} changed since it was pinned at ${pin.pinned_at} (${fields.join(', ') || 'definition'} differ; sha256 ${pin.sha256.slice(0, 12)}… → ${seen.sha.slice(0, 12)}…), so the tool is withheld and its calls are refused until an approver accepts the new definition (rule ${PIN_RULE})`;
    const a = this.deps.approvals;
    if (!a)
      return {
        status: 'changed',
        sha256: seen.sha,
        pinned: pin.sha256,
        changed: fields,
        approvalId: null,
        message: `${head}. This gateway has no approval doors, so an operator must restore the pinned definition upstream.`,
      };
    const rec = await a.service.withLock(`pin\u0000${tool}\u0000${seen.sha}`, async () => {
      let r = this.requestFor(tool, seen.sha);
      if (r && isOpen(r.status) && (await a.service.expireIfDue(r))) r = undefined;
      if (r?.status === 'approved') {
        await this.accept(r);
        return r;
      }
      if (r?.status === 'executed' && this.claimed.has(r.id)) await this.accept(r);
      // Expired, or executed elsewhere without the pin following (an instance that failed mid-way): ask again.
      else if (!r || r.status === 'expired' || (r.status === 'executed' && (await this.pinOf(tool, true))?.sha256 !== seen.sha)) r = await this.request(tool, seen, pin, fields);
      else if (r.status === 'pending' && (await a.service.exactText(r)) === null) await a.service.deps.statements.put(r.id, seen.sha, seen.text).catch(() => undefined);
      return r;
    });
    if (rec.status === 'executed') {
      const now = await this.pinOf(tool, true);
      if (now?.sha256 === seen.sha) return { status: 'pinned', sha256: seen.sha };
    }
    const lines = [head + '.'];
    if (rec.status === 'rejected') {
      lines.push(
        `The new definition was rejected by ${rec.rejection?.actor.display ?? 'a reviewer'} (${rec.rejection?.reason ?? 'no reason'}) in ${rec.id}; the tool stays refused until the upstream's definition is restored or changes again.`,
      );
    } else {
      lines.push(
        `Approval ${rec.id} is ${rec.status} (${rec.approvals.length} of ${rec.required} from role ${rec.approverRoles.join(' or ')}); it expires at ${rec.expiresAt}.`,
        `An approver reviews the new definition at ${a.urls.review(rec.id)}`,
        `or in a terminal: ${a.urls.cli(rec.id, 'show')}`,
      );
    }
    return { status: 'changed', sha256: seen.sha, pinned: pin.sha256, changed: fields, approvalId: rec.id, message: lines.join('\n') };
  }

  private async request(tool: string, seen: Seen, pin: ToolPin, fields: string[]): Promise<ApprovalRecord> {
    const a = this.deps.approvals!;
    const id = a.service.newId();
    // The exact definition is what the approver reviews (the statement store keeps it, bound by its sha256).
    await a.service.deps.statements.put(id, seen.sha, seen.text);
    const reason = `upstream ${this.deps.upstream} changed tool ${tool} (${fields.join(', ') || 'definition'}) since it was pinned at ${pin.pinned_at} as sha256 ${pin.sha256}; accepting pins the new definition (sha256 ${seen.sha}) and lets calls through again`;
    await a.service.append({
      event_type: 'approval_requested',
      ...GATEWAY,
      tool_name: tool,
      upstream: this.deps.upstream,
      target_tables: [],
      statement_types: ['tool_definition'],
      statement_kinds: [PIN_KIND],
      // The definition as reviewed; it is upstream text, not data, and the audit keeps it whole.
      sql_text: seen.text,
      sql_sha256: seen.sha,
      privileged: true,
      decision: 'approval_required',
      rule_ids: [PIN_RULE],
      decision_reason: reason,
      outcome: 'pending',
      approval_id: id,
      approval_requester: 'bqwarden',
      approval_approvers: [],
      approvals_required: this.deps.required,
      approval_expires_at: iso(a.service.now() + this.deps.expirySeconds * 1000),
      request_json: JSON.stringify({
        approval: { approver_roles: this.deps.approverRoles, args_sha256: null, rule_id: PIN_RULE },
        tool_pin: { previous_seq: pin.seq, previous_sha256: pin.sha256, sha256: seen.sha, changed: fields, previous_definition: JSON.parse(pin.definition) as unknown },
      }),
    });
    const rec = a.service.get(id);
    if (!rec) throw new Error(`tool pin approval ${id} was written but could not be read back`);
    a.notifier.notify(rec);
    return rec;
  }

  /** Pins an approved definition as the tool's next record: once, whichever instance claims it. */
  async accept(rec: ApprovalRecord): Promise<void> {
    const a = this.deps.approvals;
    if (!a) return;
    await a.service.withLock(`pin-accept\u0000${rec.id}`, async () => {
      // Ours to finish: claimed here, then interrupted (an audit write or the store failed).
      const mine = this.claimed.has(rec.id);
      if (!(rec.status === 'approved' || (mine && rec.status === 'executed'))) return;
      if (rec.status === 'approved' && (await a.service.expireIfDue(rec))) return;
      const text = (await a.service.exactText(rec)) ?? (rec.sqlText !== null && sha256Hex(rec.sqlText) === rec.sqlSha256 ? rec.sqlText : null);
      if (text === null) throw new Error(`the approved definition of ${rec.id} is not available on this instance`);
      if (!mine && !(await a.claims.claim(rec.id, { instance: this.deps.instance, session_id: null, request_id: null, at: iso(this.now()) }))) return;
      this.claimed.add(rec.id);
      const by = rec.approvals.map((v) => v.actor.display);
      if (rec.status === 'approved')
        await a.service.append({
          event_type: 'approval_executed',
          ...GATEWAY,
          ...recordFields(rec),
          decision: 'approval_required',
          outcome: 'pending',
          decision_reason: `approved tool definition claimed by ${this.deps.instance}; pinning it`,
        });
      let current = await this.pinOf(rec.tool, true);
      let pin: ToolPin | null = null;
      for (let attempt = 0; attempt < 3 && current?.sha256 !== rec.sqlSha256; attempt++) {
        const next: ToolPin = {
          upstream: this.deps.upstream,
          tool: rec.tool,
          seq: (current?.seq ?? 0) + 1,
          sha256: rec.sqlSha256,
          definition: text,
          pinned_at: iso(this.now()),
          how: 'approved',
          approval_id: rec.id,
          approved_by: by,
          instance: this.deps.instance,
        };
        if (await this.deps.store.create(next)) pin = next;
        current = await this.pinOf(rec.tool, true);
      }
      const ok = current?.sha256 === rec.sqlSha256;
      if (pin) {
        await a.service.append({
          event_type: 'tool_pinned',
          ...GATEWAY,
          ...this.pinFields(pin),
          decision: 'allow',
          outcome: 'success',
          decision_reason: `definition of tool ${rec.tool} accepted by ${by.join(', ')} (${rec.id}): pinned as record ${pin.seq}`,
        });
      }
      await a.service.append({
        event_type: 'approval_executed',
        ...GATEWAY,
        ...recordFields(rec),
        decision: 'approval_required',
        outcome: ok ? 'success' : 'failure',
        decision_reason: ok
          ? `tool ${rec.tool} now pinned to the approved definition (sha256 ${rec.sqlSha256.slice(0, 12)}…)`
          : `the pin of tool ${rec.tool} kept moving; the approved definition was not pinned`,
      });
      this.claimed.delete(rec.id);
    });
  }

  /** Current pins, for the console and the CLI. */
  list(): Promise<ToolPin[]> {
    return this.deps.store.list();
  }
}
