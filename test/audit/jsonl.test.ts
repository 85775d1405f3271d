// The JSONL sink: day partitions, size rotation, append-only files, one writer per directory,
// torn-tail repair, and refusing to continue a chain whose head was altered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { verifyDir, formatReport } from '../../src/audit/verify.js';
import { loadPublicKeysFromDir } from '../../src/audit/checkpoint.js';
import { readEvents } from '../../src/audit/reader.js';
import { canonicalEvent } from '../../src/audit/canonical.js';
import { chainFiles, openLog, readLinesOf, request, tempData, writeLinesOf } from './helpers.js';
import { at, first } from '../helpers/present.js';

test('files are partitioned by UTC day and rotated by size; every line is canonical; order survives', async () => {
  const t = tempData();
  try {
    const sink = await JsonlSink.open({ dir: t.audit, maxFileBytes: 8192 });
    let clock = Date.parse('2026-03-01T23:59:59.000Z');
    const { log } = await openLog(t.audit, t.keys, { sink, now: () => clock });
    for (let i = 0; i < 30; i++) {
      if (i === 15) clock = Date.parse('2026-03-02T00:00:01.000Z');
      await log.append(request(i));
    }
    // a late event (yesterday's time) must not reopen yesterday's partition
    await log.append(request(99, { event_time: '2026-03-01T23:59:58.000Z' }));
    await log.close();
    const files = chainFiles(t.audit);
    const days = [...new Set(files.map((f) => basename(dirname(f))))].sort();
    assert.deepEqual(days, ['dt=2026-03-01', 'dt=2026-03-02']);
    assert.ok(files.length > 3, `rotated into ${files.length} files`);
    for (const f of files) {
      assert.ok(statSync(f).size <= 8192, `${f} respects maxFileBytes`);
      for (const l of readLinesOf(f)) assert.equal(canonicalEvent(JSON.parse(l)), l);
    }
    const late = files
      .filter((f) => f.includes('dt=2026-03-02'))
      .flatMap(readLinesOf)
      .map((l) => JSON.parse(l))
      .find((e) => e.event_time === '2026-03-01T23:59:58.000Z');
    assert.ok(late, 'late event went into the newest (2026-03-02) partition');
    const seqs: number[] = [];
    for await (const { event } of readEvents(t.audit)) seqs.push(event.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i),
    );
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), requireSealed: true });
    assert.equal(r.ok, true, formatReport(r));
  } finally {
    t.cleanup();
  }
});

test('one writer per directory: a second open is refused while the first is open', async () => {
  const t = tempData();
  try {
    const a = await JsonlSink.open({ dir: t.audit });
    await assert.rejects(JsonlSink.open({ dir: t.audit }), /already open in this process/);
    await a.close();
    const b = await JsonlSink.open({ dir: t.audit });
    assert.equal(b.chainId, a.chainId);
    await b.close();
    // a lock left by a dead process is taken over; by a live one, refused
    writeFileSync(`${t.audit}/LOCK`, String(process.ppid));
    await assert.rejects(JsonlSink.open({ dir: t.audit }), /locked by running process/);
    writeFileSync(`${t.audit}/LOCK`, '999999999');
    const c = await JsonlSink.open({ dir: t.audit });
    await c.close();
  } finally {
    t.cleanup();
  }
});

test('torn tail (and trailing garbage) is quarantined, reported, and the chain continues', async () => {
  const t = tempData();
  try {
    const a = await openLog(t.audit, t.keys);
    for (let i = 0; i < 6; i++) await a.log.append(request(i));
    const head = a.log.head();
    // simulate a crash: no close, then a torn write and a zero-filled block
    await a.sink.close();
    const file = first(chainFiles(t.audit), 'audit chain file');
    appendFileSync(file, '\u0000\u0000\u0000\n{"actor_email":"x@bank.example","act');
    const notices: string[] = [];
    const sink = await JsonlSink.open({ dir: t.audit, onNotice: (m) => notices.push(m) });
    const b = await openLog(t.audit, t.keys, { sink });
    assert.equal(b.log.head().nextSeq, head.nextSeq, 'continues right after the last complete event');
    assert.equal(notices.length, 1);
    assert.equal(sink.repairs.length, 1);
    assert.match(readFileSync(sink.repairs[0]!.quarantine, 'utf8'), /"act$/);
    assert.ok(readFileSync(file, 'utf8').endsWith('}\n'));
    await b.log.append(request(7));
    await b.log.close();
    const r = await verifyDir(t.audit, { publicKeys: loadPublicKeysFromDir(t.keys), requireSealed: true });
    assert.equal(r.ok, true, formatReport(r));
    assert.equal(r.notices.filter((n) => n.kind === 'repaired_torn_line').length, 1);
  } finally {
    t.cleanup();
  }
});

test('a tampered last event stops recovery: the chain is not continued on top of it', async () => {
  const t = tempData();
  try {
    const a = await openLog(t.audit, t.keys);
    for (let i = 0; i < 3; i++) await a.log.append(request(i));
    await a.sink.close();
    const file = first(chainFiles(t.audit), 'audit chain file');
    const lines = readLinesOf(file);
    lines[lines.length - 1] = at(lines, -1, 'last chain line').replace('"rows_returned":1', '"rows_returned":7');
    writeLinesOf(file, lines);
    const sink = await JsonlSink.open({ dir: t.audit });
    await assert.rejects(openLog(t.audit, t.keys, { sink }), /fails its schema or hash; the log was altered/);
    assert.equal(sink.isReady(), false);
    await sink.close();
  } finally {
    t.cleanup();
  }
});

test('files are created append-only and never reused', async () => {
  const t = tempData();
  try {
    const a = await openLog(t.audit, t.keys);
    await a.log.append(request(0));
    await a.log.close();
    const before = chainFiles(t.audit);
    const b = await openLog(t.audit, t.keys);
    await b.log.append(request(1));
    await b.log.close();
    const after = chainFiles(t.audit);
    assert.equal(after.length, before.length + 1);
    assert.deepEqual(readdirSync(t.audit).sort(), ['CHAIN_ID', ...new Set(after.map((f) => basename(dirname(f))))].sort());
  } finally {
    t.cleanup();
  }
});
