// `bqwarden verify --bigquery project.dataset.table --from D --to D`: streams the audit rows of
// a date range out of BigQuery ordered by chain and seq, normalises each row back into the
// exact event the gateway hashed, and feeds the same streaming verifier the local verify uses,
// so the report (gaps, links, signatures, duplicates) reads the same.
import type { BigQuery } from '@google-cloud/bigquery';
import { DAY } from '../audit/store.js';
import { verifyStore, type VerifierOptions, type VerifyReport } from '../audit/verify.js';
import { BigQueryAuditStore } from './audit-store.js';

export { buildVerifyQuery } from './audit-store.js';

export interface BigQueryVerifyOptions {
  /** project.dataset.table of the raw audit table (not the dedup view: duplicates are reported). */
  table: string;
  /** Inclusive UTC dates, YYYY-MM-DD. */
  from: string;
  to: string;
  publicKeys: VerifierOptions['publicKeys'];
  /** Anchors to compare the window with (anchors outside the window are not judged). */
  anchors?: VerifierOptions['anchors'];
  chainId?: string;
  location?: string;
  bigquery?: BigQuery;
  apiEndpoint?: string;
  /** Show a progress bar on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /**
   * Look past the window for the chains that end unsealed in it, to tell "continues after --to"
   * from "still running" from "never sealed" (default true; one small grouped query).
   */
  classifyOpenChains?: boolean;
  /** An unsealed chain whose last event is younger than this may still be running. Default 15 min. */
  runningWindowMs?: number;
  now?: () => number;
}

/** Where and when a chain of the window started and ended, as far as the window shows. */
interface ChainSeen {
  instance: string;
  firstSeq: number;
  firstType: string;
  lastSeq: number;
  lastTime: string;
}

const PER_INSTANCE = 'Chains are per instance: each gateway process writes its own chain and seals it at shutdown (docs/gcp.md, "Chain continuity").';

export async function verifyBigQuery(o: BigQueryVerifyOptions): Promise<VerifyReport> {
  if (!DAY.test(o.from) || !DAY.test(o.to)) throw new Error('verify --bigquery: --from and --to must be dates, YYYY-MM-DD');
  if (o.from > o.to) throw new Error(`verify --bigquery: --from ${o.from} is after --to ${o.to}`);
  const store = new BigQueryAuditStore({ table: o.table, location: o.location, bigquery: o.bigquery, apiEndpoint: o.apiEndpoint });

  const showProgress = o.progress ?? Boolean(process.stderr.isTTY);
  let bar: { increment(n?: number): void; stop(): void } | null = null;
  if (showProgress) {
    const { SingleBar, Presets } = await import('cli-progress');
    const total = await store.countDays(o.from, o.to, o.chainId || undefined);
    const b = new SingleBar({ stream: process.stderr, format: 'verify {bar} {value}/{total} rows | {eta_formatted} left' }, Presets.shades_classic);
    b.start(total, 0);
    bar = b;
  }

  const seen = new Map<string, ChainSeen>();
  let report: VerifyReport;
  try {
    report = await verifyStore(store, {
      publicKeys: o.publicKeys,
      partial: true,
      anchors: o.anchors,
      chainId: o.chainId || undefined,
      days: { from: o.from, to: o.to },
      onRecord: () => bar?.increment(),
      onEvent: (e) => {
        const c = seen.get(e.chain_id);
        if (!c) seen.set(e.chain_id, { instance: e.gateway_instance, firstSeq: e.seq, firstType: e.event_type, lastSeq: e.seq, lastTime: e.event_time });
        else if (e.seq >= c.lastSeq) Object.assign(c, { lastSeq: e.seq, lastTime: e.event_time });
      },
    });
  } finally {
    bar?.stop();
  }
  const open = report.chains.filter((c) => !c.sealed).map((c) => c.chain_id);
  const after = open.length > 0 && o.classifyOpenChains !== false ? await chainsAfterWindow(store, o.to, open) : null;
  explainOpenChains(report, seen, after, { to: o.to, nowMs: (o.now ?? Date.now)(), runningWindowMs: o.runningWindowMs ?? 15 * 60_000 });
  return report;
}

interface LaterEvents {
  n: number;
  lastSeq: number;
  lastTime: string;
}

/** For chains open at the end of the window: how many of their events come after it. */
async function chainsAfterWindow(store: BigQueryAuditStore, to: string, chains: string[]): Promise<Map<string, LaterEvents>> {
  const out = new Map<string, LaterEvents>();
  for (const h of await store.heads({ afterDay: to, chainIds: chains })) out.set(h.chain_id, { n: h.events, lastSeq: h.seq, lastTime: h.event_time });
  return out;
}

function explainOpenChains(report: VerifyReport, seen: Map<string, ChainSeen>, after: Map<string, LaterEvents> | null, o: { to: string; nowMs: number; runningWindowMs: number }): void {
  for (const c of report.chains) {
    if (c.sealed) continue;
    const info = seen.get(c.chain_id);
    const who = info?.instance ? `instance ${info.instance}` : 'its instance';
    const started = info && info.firstSeq === 0 ? `started at seq 0 (${info.firstType})` : `started before the window`;
    const later = after?.get(c.chain_id);
    const signed = c.last_signed_seq < 0 ? 'no signed checkpoint in the window' : `signed up to seq ${c.last_signed_seq}`;
    let message: string;
    if (later && later.n > 0) {
      message = `chain of ${who} continues after ${o.to}: ${later.n} more event(s) up to seq ${later.lastSeq} at ${later.lastTime}; widen --to to check its seal`;
    } else if (!after) {
      message = `chain of ${who} is open at the end of the window (last event seq ${c.last_seq}${info ? ` at ${info.lastTime}` : ''}, ${signed}); events after ${o.to} were not looked up`;
    } else if (info && o.nowMs - Date.parse(info.lastTime) < o.runningWindowMs) {
      message = `chain of ${who} is still being written (last event seq ${c.last_seq} at ${info.lastTime}, ${signed}); it is sealed when the instance shuts down`;
    } else {
      const unsigned = c.last_seq - Math.max(c.last_signed_seq, c.first_seq - 1);
      message =
        `chain of ${who} never sealed: it ${started} and stops at seq ${c.last_seq}${info ? ` at ${info.lastTime}` : ''} without gateway_stop + final signed checkpoint, ` +
        `so the instance ended without a clean shutdown (crash, out of memory, killed before the seal was published). ` +
        (unsigned > 0
          ? `It is ${signed}; the ${unsigned} event(s) after that are hash-linked but unsigned, so events cut from its end would not show.`
          : `Every event is covered by a signed checkpoint.`);
    }
    message = `${message}${message.endsWith('.') ? '' : '.'} ${PER_INSTANCE}`;
    const idx = report.notices.findIndex((f) => f.kind === 'open_tail' && f.chain === c.chain_id);
    const found = report.notices[idx];
    if (found) report.notices[idx] = { ...found, message };
    else report.notices.push({ kind: 'open_tail', severity: 'notice', chain: c.chain_id, seq: c.last_seq, message });
  }
}
