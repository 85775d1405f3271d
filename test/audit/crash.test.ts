// SIGKILL under load: no acknowledged event is lost, the torn tail is repaired and reported
// (not a break), and the restarted writer continues the same chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { verifyDir, formatReport } from '../../src/audit/verify.js';
import { readEvents } from '../../src/audit/reader.js';
import { loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { chainFiles, tempData } from './helpers.js';
import { at } from '../helpers/present.js';

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, 'fixtures', 'append-worker.ts');

function startWorker(
  data: string,
  args: string[],
): { child: ChildProcess; acks: number[]; stderr: () => string; lines: (pred: (l: string) => boolean) => Promise<void>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, data, ...args], { cwd: join(here, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: number[] = [];
  let err = '';
  let buf = '';
  const waiters: { pred: (l: string) => boolean; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('ack ')) acks.push(Number(line.slice(4)));
      for (const w of waiters.splice(0)) (w.pred(line) ? w.resolve : () => waiters.push(w))();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    acks,
    stderr: () => err,
    lines: (pred) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exit.then((c) => reject(new Error(`worker exited (${c}) early: ${err}`)));
      }),
    exit,
  };
}

test('SIGKILL mid-load: acknowledged events survive, torn tail repaired and reported, chain continues', { timeout: 120_000 }, async () => {
  const t = tempData();
  const kids: ChildProcess[] = [];
  try {
    const first = startWorker(t.data, ['load']);
    kids.push(first.child);
    let count = 0;
    await first.lines((l) => l.startsWith('ack ') && ++count >= 400);
    first.child.kill('SIGKILL');
    await first.exit;
    const acked = new Set(first.acks);
    assert.ok(acked.size >= 400);

    // SIGKILL rarely tears a write by itself; a power cut does. Leave half a line the way a
    // torn write would, so recovery has to deal with it.
    const files = chainFiles(t.audit);
    appendFileSync(at(files, -1, 'audit chain file'), '{"actor_email":null,"actor_gro');

    const second = startWorker(t.data, ['finish', '60']);
    kids.push(second.child);
    assert.equal(await second.exit, 0, second.stderr());
    assert.match(second.stderr(), /notice: audit: cut \d+ unacknowledged byte\(s\) of a torn line/);
    assert.equal(second.acks.length, 60);

    const report = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), requireSealed: true });
    assert.equal(report.ok, true, formatReport(report));
    assert.equal(report.chains.length, 1, 'one chain across the restart');
    assert.ok(
      report.notices.some((n) => n.kind === 'repaired_torn_line'),
      'the repair is reported',
    );

    const seqs: number[] = [];
    for await (const { event } of readEvents(t.audit)) seqs.push(event.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i),
      'contiguous seqs from 0',
    );
    const present = new Set(seqs);
    for (const s of [...acked, ...second.acks]) assert.ok(present.has(s), `acknowledged seq ${s} is in the log`);
    assert.ok(Math.min(...second.acks) > Math.max(...acked), 'the restarted writer continues after the last durable event');
  } finally {
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
    t.cleanup();
  }
});
