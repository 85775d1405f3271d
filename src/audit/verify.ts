// Verifies audit chains from any source. The streaming core (createVerifier) takes events in
// chain order with a location (file:line for JSONL, a row ref for BigQuery) and keeps only a
// few bytes per event, so a million-event chain verifies in constant-ish memory. verifyDir
// feeds it from the local JSONL store.
//
// A "break" is evidence the log is not what the gateway wrote (or is incomplete); a "notice" is
// expected operational noise (an identical event delivered twice, a torn line that crash
// recovery cut off and kept). The report is shared with `verify --bigquery`.
import type { KeyObject } from 'node:crypto';
import { ZERO_HASH, type AuditEvent } from './event.js';
import { hashValidEvent } from './hash.js';
import { publicKeyMap, verifyCheckpointSignature, type TrustedKey } from './checkpoint.js';
import type { Anchor } from './anchors.js';
import { JsonlAuditStore } from './store-jsonl.js';
import type { AuditStore, Location } from './store.js';

const BREAK_KINDS = [
  'hash_mismatch', // content differs from its hash: the event was edited
  'not_canonical', // a JSONL line that is not the canonical text of its event (added or reformatted fields)
  'malformed', // a line or row that is not an audit event at all
  'torn_line', // the file ends in half a line: truncated mid-line and not repaired by recovery
  'broken_link', // prev_hash is not the hash of the previous event: an event was replaced or the chain rebuilt
  'seq_gap', // seqs missing: events deleted
  'reordered', // an event appears after later ones
  'conflicting_duplicate', // two different events claim the same seq
  'missing_genesis', // the chain does not start at seq 0
  'bad_signature', // checkpoint signature does not verify
  'unknown_key', // checkpoint signed by a key we were not given
  'unsigned_tail', // events after the last checkpoint: the tail may have been cut or appended to
  'unsealed', // the chain is not sealed (it does not end with gateway_stop + signed checkpoint)
  'anchor_missing', // an anchored seq is not in the log: tail cut, newest file or whole chain deleted
  'anchor_mismatch', // the event at an anchored seq has another hash: rewritten after it was anchored
  'anchor_conflict', // two anchors claim different hashes for one seq
  'anchor_invalid', // an anchor record that cannot be read
] as const;
type BreakKind = (typeof BREAK_KINDS)[number];

const NOTICE_KINDS = [
  'duplicate',
  'repaired_torn_line',
  'open_tail',
  'empty',
  'intent_without_outcome', // a write-ahead intent whose call has no outcome event (crash, sink failure after execution)
  'key_change', // checkpoints of a chain switch signing key
  'unpinned_key', // the verification key was not pinned (demo key file): see the key sources
  'unanchored_tail', // events after the last anchor: not yet covered by the anchor store
  'unanchored_chain', // a chain with no anchor at all while anchors were checked
  'time_regression', // event_time goes backwards within a chain (clock skew); order is by seq
] as const;
type NoticeKind = (typeof NOTICE_KINDS)[number];

interface Finding extends Location {
  kind: BreakKind | NoticeKind;
  severity: 'break' | 'notice';
  chain: string | null;
  seq: number | null;
  event_id?: string;
  message: string;
}

interface ChainSummary {
  chain_id: string;
  events: number;
  first_seq: number;
  last_seq: number;
  checkpoints: number;
  /** Last checkpoint whose signature verified, -1 when none. */
  last_signed_seq: number;
  /** Ends with gateway_stop followed by a verified checkpoint. */
  sealed: boolean;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  chains: ChainSummary[];
  breaks: Finding[];
  notices: Finding[];
  /** The keys checkpoints were checked against and where each came from. */
  keys: { key_id: string; source: string }[];
  /** Write-ahead intents and how many have no outcome. */
  intents: { written: number; open: number };
  /** The anchor store compared against, or null when none was given. */
  anchors: { store: string; count: number; checked: number } | null;
}

export interface VerifierOptions {
  /** Pinned keys. A TrustedKey names its source (config, --key, Terraform output), which the report prints. */
  publicKeys: (KeyObject | string | TrustedKey)[];
  /** Anchors to compare the chain with (AnchorStore.list()). */
  anchors?: { store: string; anchors: Anchor[]; invalid?: { ref: string; reason: string }[] };
  /** A window of a chain (e.g. a BigQuery time range): no genesis required, an open end is normal. */
  partial?: boolean;
  /**
   * Archived chains: every chain must end sealed (gateway_stop + signed checkpoint), else
   * unsigned_tail / unsealed are breaks. Off by default so a running gateway's directory verifies;
   * the open end is then reported as an open_tail notice.
   */
  requireSealed?: boolean;
}

export interface Verifier {
  /** `computedHash` lets a caller that already serialised the event skip doing it twice. */
  push(event: AuditEvent, location?: Location, computedHash?: string): void;
  /** A record that could not be read as an event (bad JSON, failed normalizeEvent, torn line). */
  pushInvalid(location: Location, reason: string, kind?: 'malformed' | 'torn_line' | 'not_canonical', chain?: string | null, seq?: number | null): void;
  notice(kind: NoticeKind, message: string, location?: Location): void;
  finish(): VerifyReport;
}

/** 8 bytes of each event's hash by seq: enough to tell duplicates and order, 8 MB per million events. */
class SeqHashes {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private has = new Uint8Array(1024);
  constructor(readonly base: number) {}
  private idx(seq: number): number {
    return seq - this.base;
  }
  get(seq: number): [number, number] | null {
    const i = this.idx(seq);
    if (i < 0 || i >= this.has.length || !this.has[i]) return null;
    // The three arrays always have the same length, checked just above.
    return [this.hi[i]!, this.lo[i]!];
  }
  set(seq: number, hash: string): void {
    const i = this.idx(seq);
    if (i < 0 || i > 1 << 28) return; // absurd seqs are reported as gaps; don't allocate for them
    if (i >= this.has.length) {
      let n = this.has.length;
      while (n <= i) n *= 2;
      const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(n);
        b.set(a);
        return b;
      };
      this.hi = grow(this.hi, (k) => new Uint32Array(k));
      this.lo = grow(this.lo, (k) => new Uint32Array(k));
      this.has = grow(this.has, (k) => new Uint8Array(k));
    }
    this.hi[i] = parseInt(hash.slice(0, 8), 16) >>> 0;
    this.lo[i] = parseInt(hash.slice(8, 16), 16) >>> 0;
    this.has[i] = 1;
  }
}

interface Gap {
  from: number;
  to: number;
  loc: Location;
}

interface ChainState {
  id: string;
  events: number;
  firstSeq: number;
  lastSeq: number;
  lastHash: string;
  lastType: string;
  /** Type of the last in-order event that is not a checkpoint. */
  lastEventType: string | null;
  lastLoc: Location;
  checkpoints: number;
  lastSignedSeq: number;
  lastKeyId: string | null;
  lastTime: string;
  hashes: SeqHashes;
  gaps: Gap[];
}

function where(loc: Location | undefined): string {
  if (!loc) return '';
  if (loc.file) return loc.line ? `${loc.file}:${loc.line}` : loc.file;
  return loc.ref ?? '';
}

function keySources(list: VerifierOptions['publicKeys']): { key_id: string; source: string; pinned: boolean }[] {
  return list.map((k) => {
    const trusted = typeof k === 'object' && 'source' in k ? k : null;
    const [id] = publicKeyMap([k]).keys();
    // publicKeyMap throws on a key it cannot read, so one key in gives one id out.
    if (id === undefined) throw new Error('verification key has no id');
    return { key_id: id, source: trusted?.source ?? 'given by the caller', pinned: trusted?.pinned !== false };
  });
}

export function createVerifier(opts: VerifierOptions): Verifier {
  const breaks: Finding[] = [];
  const notices: Finding[] = [];
  const keys = publicKeyMap(opts.publicKeys);
  const keyList = keySources(opts.publicKeys);
  const sourceOf = (id: string | null) => keyList.find((k) => k.key_id === id)?.source ?? 'not pinned';
  // Intents seen without their outcome yet; outcomes seen before their intent (other chain order).
  const openIntents = new Map<string, { chain: string; seq: number; loc: Location; time: string; method: string | null; tool: string | null }>();
  const completed = new Set<string>();
  let intentsWritten = 0;
  // Anchors by chain and seq; a seq is checked when the event at it is pushed.
  const anchored = new Map<string, Map<number, Anchor>>();
  const anchorChecked = new Set<Anchor>();
  for (const a of opts.anchors?.anchors ?? []) {
    let bySeq = anchored.get(a.chain_id);
    if (!bySeq) anchored.set(a.chain_id, (bySeq = new Map()));
    const other = bySeq.get(a.seq);
    if (other && other.hash !== a.hash) {
      breaks.push({
        kind: 'anchor_conflict',
        severity: 'break',
        chain: a.chain_id,
        seq: a.seq,
        ref: opts.anchors!.store,
        message: `two anchors for seq ${a.seq} disagree (${other.hash.slice(0, 12)}… written ${other.anchored_at}, ${a.hash.slice(0, 12)}… written ${a.anchored_at})`,
      });
      continue;
    }
    bySeq.set(a.seq, a);
  }
  for (const k of keyList) {
    if (!k.pinned)
      notices.push({
        kind: 'unpinned_key',
        severity: 'notice',
        chain: null,
        seq: null,
        message: `key ${k.key_id} comes from ${k.source}, not from a pin: whoever can write that file can re-sign the whole chain. Pin the key (--key, audit.trustedKeys) and check the anchors`,
      });
  }
  for (const bad of opts.anchors?.invalid ?? []) {
    breaks.push({ kind: 'anchor_invalid', severity: 'break', chain: null, seq: null, ref: bad.ref, message: `anchor record cannot be read: ${bad.reason}` });
  }
  const chains = new Map<string, ChainState>();
  let events = 0;
  const open = !opts.requireSealed || opts.partial;

  const brk = (kind: BreakKind, chain: string | null, seq: number | null, message: string, loc?: Location, eventId?: string) =>
    breaks.push({ kind, severity: 'break', chain, seq, ...loc, ...(eventId ? { event_id: eventId } : {}), message });
  const note = (kind: NoticeKind, chain: string | null, seq: number | null, message: string, loc?: Location, eventId?: string) =>
    notices.push({ kind, severity: 'notice', chain, seq, ...loc, ...(eventId ? { event_id: eventId } : {}), message });

  function checkCheckpoint(st: ChainState, e: AuditEvent, loc: Location | undefined): void {
    st.checkpoints++;
    const key = e.signing_key_id ? keys.get(e.signing_key_id) : undefined;
    if (!e.signature || !e.signing_key_id) {
      brk('bad_signature', st.id, e.seq, 'checkpoint carries no signature', loc, e.event_id);
    } else if (!key) {
      brk('unknown_key', st.id, e.seq, `checkpoint signed by key ${e.signing_key_id}, which is not among the ${keys.size} verification key(s) given`, loc, e.event_id);
    } else if (!verifyCheckpointSignature(key, e.chain_id, e.seq, e.prev_hash, e.signature)) {
      brk('bad_signature', st.id, e.seq, `checkpoint signature does not verify with key ${e.signing_key_id}`, loc, e.event_id);
    } else if (e.seq > st.lastSignedSeq) {
      st.lastSignedSeq = e.seq;
    }
    if (e.signing_key_id && st.lastKeyId && e.signing_key_id !== st.lastKeyId) {
      note(
        'key_change',
        st.id,
        e.seq,
        `checkpoints switch from key ${st.lastKeyId} (${sourceOf(st.lastKeyId)}) to key ${e.signing_key_id} (${sourceOf(e.signing_key_id)}) at seq ${e.seq}: confirm the rotation was planned`,
        loc,
        e.event_id,
      );
    }
    if (e.signing_key_id) st.lastKeyId = e.signing_key_id;
  }

  /** Intents, anchors and clock, for every event pushed in chain order. */
  function track(st: ChainState | undefined, e: AuditEvent, loc: Location | undefined): void {
    if (e.event_type === 'mcp_intent') {
      intentsWritten++;
      if (!completed.delete(e.event_id)) openIntents.set(e.event_id, { chain: e.chain_id, seq: e.seq, loc: loc ?? {}, time: e.event_time, method: e.mcp_method, tool: e.tool_name });
    }
    if (e.intent_id && !openIntents.delete(e.intent_id)) completed.add(e.intent_id);
    const a = anchored.get(e.chain_id)?.get(e.seq);
    if (a) {
      anchorChecked.add(a);
      if (a.hash !== e.hash) {
        brk(
          'anchor_mismatch',
          e.chain_id,
          e.seq,
          `the anchor written ${a.anchored_at} holds hash ${a.hash.slice(0, 16)}… for seq ${e.seq}, the log holds ${e.hash.slice(0, 16)}…: the event (and the chain after it) was rewritten after it was anchored`,
          loc,
          e.event_id,
        );
      }
    }
    if (st && e.event_time < st.lastTime) {
      note(
        'time_regression',
        st.id,
        e.seq,
        `event_time ${e.event_time} is earlier than the previous event's ${st.lastTime} (clock set back or skewed); the chain orders by seq, which is intact here`,
        loc,
        e.event_id,
      );
    }
    if (st && e.event_time > st.lastTime) st.lastTime = e.event_time;
  }

  function fillGap(st: ChainState, seq: number): boolean {
    for (const [i, g] of st.gaps.entries()) {
      if (seq < g.from || seq > g.to) continue;
      const parts: Gap[] = [];
      if (g.from < seq) parts.push({ from: g.from, to: seq - 1, loc: g.loc });
      if (seq < g.to) parts.push({ from: seq + 1, to: g.to, loc: g.loc });
      st.gaps.splice(i, 1, ...parts);
      return true;
    }
    return false;
  }

  function push(e: AuditEvent, loc?: Location, precomputed?: string): void {
    events++;
    const computed = precomputed ?? hashValidEvent(e);
    if (computed !== e.hash) {
      brk('hash_mismatch', e.chain_id, e.seq, `event ${e.event_type} content does not match its hash (edited after it was written)`, loc, e.event_id);
    }
    let st = chains.get(e.chain_id);
    if (!st) {
      if (e.seq !== 0 && !opts.partial) {
        brk('missing_genesis', e.chain_id, e.seq, `chain starts at seq ${e.seq}, not 0: its beginning is missing`, loc, e.event_id);
      } else if (e.seq === 0 && e.prev_hash !== ZERO_HASH) {
        brk('broken_link', e.chain_id, 0, 'first event of the chain must link to the zero hash', loc, e.event_id);
      }
      st = {
        id: e.chain_id,
        events: 1,
        firstSeq: e.seq,
        lastSeq: e.seq,
        lastHash: e.hash,
        lastType: e.event_type,
        lastEventType: e.event_type === 'checkpoint' ? null : e.event_type,
        lastLoc: loc ?? {},
        checkpoints: 0,
        lastSignedSeq: -1,
        lastKeyId: null,
        lastTime: e.event_time,
        hashes: new SeqHashes(e.seq),
        gaps: [],
      };
      st.hashes.set(e.seq, e.hash);
      chains.set(e.chain_id, st);
      if (e.event_type === 'checkpoint') checkCheckpoint(st, e, loc);
      track(undefined, e, loc);
      return;
    }
    st.events++;
    const seen = st.hashes.get(e.seq);
    if (seen) {
      const same = seen[0] === parseInt(e.hash.slice(0, 8), 16) >>> 0 && seen[1] === parseInt(e.hash.slice(8, 16), 16) >>> 0;
      if (same && computed === e.hash) {
        note('duplicate', st.id, e.seq, `event ${e.event_id} delivered more than once (identical copy ignored)`, loc, e.event_id);
      } else {
        brk('conflicting_duplicate', st.id, e.seq, `a different event already holds seq ${e.seq}`, loc, e.event_id);
      }
      st.events--;
      return;
    }
    if (e.seq < st.firstSeq || e.seq < st.lastSeq) {
      const filled = fillGap(st, e.seq);
      brk(
        'reordered',
        st.id,
        e.seq,
        filled ? `seq ${e.seq} appears after seq ${st.lastSeq}: events are out of order` : `seq ${e.seq} appears after seq ${st.lastSeq} and outside the chain`,
        loc,
        e.event_id,
      );
      st.hashes.set(e.seq, e.hash);
      if (e.event_type === 'checkpoint') checkCheckpoint(st, e, loc);
      track(undefined, e, loc);
      return;
    }
    if (e.seq === st.lastSeq + 1) {
      if (e.prev_hash !== st.lastHash) {
        brk('broken_link', st.id, e.seq, `prev_hash does not match the hash of seq ${st.lastSeq}: an event was replaced or the chain rebuilt`, loc, e.event_id);
      }
    } else {
      st.gaps.push({ from: st.lastSeq + 1, to: e.seq - 1, loc: loc ?? {} });
    }
    st.hashes.set(e.seq, e.hash);
    if (e.event_type !== 'checkpoint') st.lastEventType = e.event_type;
    st.lastSeq = e.seq;
    st.lastHash = e.hash;
    st.lastType = e.event_type;
    st.lastLoc = loc ?? {};
    if (e.event_type === 'checkpoint') checkCheckpoint(st, e, loc);
    track(st, e, loc);
  }

  function finish(): VerifyReport {
    const summaries: ChainSummary[] = [];
    for (const st of chains.values()) {
      for (const g of st.gaps) {
        const n = g.to - g.from + 1;
        brk('seq_gap', st.id, g.from, `${n} event(s) missing: seq ${g.from}${n > 1 ? `..${g.to}` : ''} (deleted) before ${where(g.loc) || 'the next event'}`, g.loc);
      }
      const sealed = st.lastType === 'checkpoint' && st.lastSignedSeq === st.lastSeq && st.lastEventType === 'gateway_stop';
      if (st.lastSignedSeq < st.lastSeq) {
        const n = st.lastSeq - Math.max(st.lastSignedSeq, st.firstSeq - 1);
        const msg = `${n} event(s) after the last signed checkpoint (${st.lastSignedSeq < 0 ? 'none' : `seq ${st.lastSignedSeq}`}) are not covered by a signature; the chain was cut or the gateway is still writing`;
        if (open) note('open_tail', st.id, st.lastSeq, msg, st.lastLoc);
        else brk('unsigned_tail', st.id, st.lastSeq, msg, st.lastLoc);
      } else if (!sealed) {
        const msg = 'chain is not sealed (it does not end with gateway_stop + signed checkpoint): events after it may have been cut, or the gateway is still running';
        if (open) note('open_tail', st.id, st.lastSeq, msg, st.lastLoc);
        else brk('unsealed', st.id, st.lastSeq, msg, st.lastLoc);
      }
      summaries.push({
        chain_id: st.id,
        events: st.events,
        first_seq: st.firstSeq,
        last_seq: st.lastSeq,
        checkpoints: st.checkpoints,
        last_signed_seq: st.lastSignedSeq,
        sealed,
      });
    }
    finishAnchors();
    for (const [id, i] of openIntents) {
      note(
        'intent_without_outcome',
        i.chain,
        i.seq,
        `write-ahead intent ${id} (${i.tool ?? i.method ?? 'call'}, ${i.time}) has no outcome event: the gateway crashed or its audit sink failed after the call was sent upstream${opts.partial ? ', or the outcome lies outside this window' : ''}; check the upstream's own logs for that call`,
        i.loc,
        id,
      );
    }
    if (events === 0 && breaks.length === 0) note('empty', null, null, 'no audit events found');
    summaries.sort((a, b) => (a.chain_id < b.chain_id ? -1 : 1));
    const anchors = opts.anchors ? { store: opts.anchors.store, count: opts.anchors.anchors.length, checked: anchorChecked.size } : null;
    return {
      ok: breaks.length === 0,
      events,
      chains: summaries,
      breaks,
      notices,
      keys: keyList.map(({ key_id, source }) => ({ key_id, source })),
      intents: { written: intentsWritten, open: openIntents.size },
      anchors,
    };
  }

  function finishAnchors(): void {
    if (!opts.anchors) return;
    for (const [chain, bySeq] of anchored) {
      const st = chains.get(chain);
      for (const a of bySeq.values()) {
        if (anchorChecked.has(a)) continue;
        if (!st) {
          if (opts.partial) continue; // the window may simply not include this chain
          brk('anchor_missing', chain, a.seq, `chain ${chain} was anchored up to seq ${a.seq} (${a.anchored_at}, instance ${a.instance}) but is not in the log: it was deleted`, {
            ref: opts.anchors.store,
          });
        } else if (a.seq > st.lastSeq) {
          if (opts.partial) continue; // beyond the window's end
          brk(
            'anchor_missing',
            chain,
            a.seq,
            `the chain ends at seq ${st.lastSeq} but seq ${a.seq} was anchored at ${a.anchored_at}: events ${st.lastSeq + 1}..${a.seq} were cut (tail removed or newest file deleted)`,
            st.lastLoc,
          );
        } else if (a.seq >= st.firstSeq) {
          brk('anchor_missing', chain, a.seq, `seq ${a.seq} was anchored at ${a.anchored_at} but is not in the log (deleted)`, { ref: opts.anchors.store });
        }
      }
    }
    for (const st of chains.values()) {
      const bySeq = anchored.get(st.id);
      if (!bySeq || bySeq.size === 0) {
        note('unanchored_chain', st.id, null, `no anchor in ${opts.anchors.store} covers this chain: written before anchoring was on, or not by a gateway of this deployment`);
        continue;
      }
      const last = Math.max(...bySeq.keys());
      if (last < st.lastSeq) {
        note(
          'unanchored_tail',
          st.id,
          st.lastSeq,
          `${st.lastSeq - last} event(s) after the last anchor (seq ${last}) are not yet anchored: a cut of these would not show (the gateway anchors every second)`,
          st.lastLoc,
        );
      }
    }
  }

  return {
    push,
    pushInvalid(loc, reason, kind = 'malformed', chain = null, seq = null) {
      events++;
      brk(kind, chain, seq, reason, loc);
    },
    notice(kind, message, loc) {
      note(kind, null, null, message, loc);
    },
    finish,
  };
}

export interface VerifyStoreOptions extends VerifierOptions {
  chainId?: string;
  /** Only the events of these UTC days (a window: verify it with partial). */
  days?: { from: string; to: string };
  /** Sees every event fed to the verifier (what a caller folds beside the report). */
  onEvent?: (e: AuditEvent) => void;
  /** Called once per record read, events and damaged records alike (progress). */
  onRecord?: () => void;
}

/** Verifies the chains of any audit store: its records, damaged ones included, through one verifier. */
export async function verifyStore(store: AuditStore, opts: VerifyStoreOptions): Promise<VerifyReport> {
  const v = createVerifier(opts);
  for await (const r of store.records({ chainId: opts.chainId, days: opts.days })) {
    if (r.kind !== 'notice') opts.onRecord?.();
    if (r.kind === 'event') {
      v.push(r.event, r.loc, r.computedHash);
      opts.onEvent?.(r.event);
    } else if (r.kind === 'invalid') v.pushInvalid(r.loc, r.reason, r.defect, r.chain, r.seq);
    else v.notice(r.notice, r.message, r.loc);
  }
  return v.finish();
}

/** Verifies every chain in a local JSONL audit directory. */
export function verifyDir(auditDir: string, opts: VerifyStoreOptions): Promise<VerifyReport> {
  return verifyStore(new JsonlAuditStore(auditDir), opts);
}

/** Human report: one OK line, or one line per break (and notice). */
export function formatReport(report: VerifyReport, opts: { title?: string } = {}): string {
  const title = opts.title ?? 'audit chain verification';
  const lines: string[] = [];
  const chains = report.chains.length;
  const cps = report.chains.reduce((n, c) => n + c.checkpoints, 0);
  if (report.ok) {
    const sealed = report.chains.filter((c) => c.sealed).length;
    lines.push(`${title}: OK — ${report.events} event(s) in ${chains} chain(s), ${cps} checkpoint(s), ${sealed}/${chains} chain(s) sealed`);
  } else {
    lines.push(`${title}: FAILED — ${report.breaks.length} break(s) in ${report.events} event(s), ${chains} chain(s)`);
  }
  for (const k of report.keys) lines.push(`key    ${k.key_id}: ${k.source}`);
  if (report.anchors) lines.push(`anchors ${report.anchors.store}: ${report.anchors.count} anchor(s), ${report.anchors.checked} matched against the log`);
  if (report.intents.written) lines.push(`intents ${report.intents.written} write-ahead intent(s), ${report.intents.open} without outcome`);
  const line = (f: Finding) => `${f.severity === 'break' ? 'BREAK ' : 'NOTICE'} ${f.kind.padEnd(21)} chain=${f.chain ?? '-'} seq=${f.seq ?? '-'}${where(f) ? ` at ${where(f)}` : ''}: ${f.message}`;
  for (const f of report.breaks) lines.push(line(f));
  for (const f of report.notices) lines.push(line(f));
  return lines.join('\n');
}
