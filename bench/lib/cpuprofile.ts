// Reads a V8 .cpuprofile (node --cpu-prof) and says where the gateway's CPU went: each sample
// is charged to the nearest project module on its stack (src/transport, src/pipeline, src/sql,
// …), so time spent in Node internals or libraries counts for the code that asked for it
// (JSON.parse in masking is masking's; an fsync in the audit writer is audit's). Samples with
// no project frame are charged to the library or runtime part at their top.
// Usage: node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile>
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const PROJECT: [RegExp, string][] = [
  [/\/(?:src|dist)\/transport\//, 'transport (src/transport)'],
  [/\/(?:src|dist)\/pipeline\//, 'pipeline orchestration (src/pipeline)'],
  [/\/(?:src|dist)\/sql\//, 'SQL analysis (src/sql)'],
  [/\/(?:src|dist)\/policy\//, 'policy (src/policy)'],
  [/\/(?:src|dist)\/masking\//, 'masking (src/masking)'],
  [/\/(?:src|dist)\/(audit|sinks)\//, 'audit (src/audit, src/sinks)'],
  [/\/(?:src|dist)\/identity\//, 'identity (src/identity)'],
  [/\/(?:src|dist)\/approvals\//, 'approvals (src/approvals)'],
  [/\/(?:src|dist)\/ops\//, 'metrics and logs (src/ops)'],
  [/\/(?:src|dist)\/server\//, 'server wiring (src/server)'],
];

const OUTSIDE: [RegExp, string][] = [
  [/node_modules\/(fastify|find-my-way|avvio|@fastify|light-my-request|fast-json-stringify|secure-json-parse)/, 'Fastify (HTTP framework)'],
  [/node_modules\/undici/, 'undici (upstream HTTP)'],
  [/node_modules\/sql-parser-cst/, 'SQL analysis (src/sql)'],
  [/node_modules\/jose/, 'identity (src/identity)'],
  [/node_modules\/(prom-client|pino|tdigest|bintrees)/, 'metrics and logs (src/ops)'],
  [/node_modules\/zod/, 'zod (validation)'],
  [/node_modules\/@modelcontextprotocol/, 'MCP SDK'],
  [/node_modules\/(tsx|esbuild|get-tsconfig)/, 'tsx loader'],
  [/^node:|^internal\//, 'Node runtime (http, streams, crypto, fs)'],
];

function categoryOf(url: string): string | null {
  for (const [re, name] of PROJECT) if (re.test(url)) return name;
  return null;
}

export function summarize(file: string): { totalMs: number; busyMs: number; rows: { part: string; ms: number; share: number }[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const node of p.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const memo = new Map<number, string>();
  const charge = (id: number): string => {
    const hit = memo.get(id);
    if (hit) return hit;
    const leaf = byId.get(id)!;
    const fn = leaf.callFrame.functionName;
    let part: string;
    if (fn === '(idle)' || fn === '(program)') part = fn;
    else if (fn === '(garbage collector)') part = 'garbage collection';
    else {
      let found: string | null = null;
      for (let cur: number | undefined = id; cur !== undefined && !found; cur = parent.get(cur)) found = categoryOf(byId.get(cur)!.callFrame.url);
      if (found) part = found;
      else {
        // Work that runs detached from its caller's stack: WebCrypto jobs (jose verifying the
        // request's JWT) and the profiler's own inspector traffic.
        let marker: string | null = null;
        for (let cur: number | undefined = id; cur !== undefined && !marker; cur = parent.get(cur)) {
          const f = byId.get(cur)!.callFrame;
          if (/^(ecdsa|rsa|eddsa|hmac)?SignVerify$|^signVerify$/i.test(f.functionName)) marker = 'identity (src/identity)';
          else if (f.url === 'node:inspector' || f.url.endsWith('/inspector/promises')) marker = '(profiler)';
        }
        const url = leaf.callFrame.url;
        part = marker ?? OUTSIDE.find(([re]) => re.test(url))?.[1] ?? (url ? 'other libraries' : 'V8 builtins (JSON, RegExp, …)');
      }
    }
    memo.set(id, part);
    return part;
  };
  const ms = new Map<string, number>();
  for (const [i, sample] of p.samples.entries()) {
    const part = charge(sample);
    ms.set(part, (ms.get(part) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const totalMs = (p.endTime - p.startTime) / 1000;
  // Idle time and the profiler's own work are not the gateway's.
  const own = ([k]: [string, number]) => k !== '(idle)' && k !== '(profiler)';
  const busyMs = [...ms].filter(own).reduce((a, [, v]) => a + v, 0);
  const rows = [...ms]
    .filter(own)
    .sort((a, b) => b[1] - a[1])
    .map(([part, v]) => ({ part, ms: v, share: v / busyMs }));
  return { totalMs, busyMs, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpuprofile.ts <file.cpuprofile>');
  const s = summarize(file);
  console.log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms profiled`);
  for (const r of s.rows) console.log(`${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.part}`);
}
