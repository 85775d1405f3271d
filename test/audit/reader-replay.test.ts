// Reader filters and the replay of a session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { readEvents, AuditReadError, type ReadIssue } from '../../src/audit/reader.js';
import { replaySession, formatReplay, responseText } from '../../src/audit/replay.js';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { chainFiles, openLog, readLinesOf, request, tempData, writeLinesOf } from './helpers.js';
import { at } from '../helpers/present.js';

async function seeded() {
  const t = tempData();
  let clock = Date.parse('2026-05-01T10:00:00.000Z');
  const { log } = await openLog(t.audit, t.keys, { now: () => clock });
  for (let i = 0; i < 12; i++) {
    clock += 3_600_000 * 4; // every 4 hours: spans three days
    await log.append(request(i, { request_id: String(i) }));
  }
  await log.close();
  return t;
}

test('readEvents filters by session and time window, in chain order', async () => {
  const t = await seeded();
  try {
    const all: number[] = [];
    for await (const { event } of readEvents(t.audit)) all.push(event.seq);
    assert.deepEqual(
      all,
      all.map((_, i) => i),
    );
    const s1: string[] = [];
    for await (const { event, file, line } of readEvents(t.audit, { sessionId: 'sess-1' })) {
      assert.equal(event.session_id, 'sess-1');
      assert.ok(file.endsWith('.jsonl') && line > 0);
      s1.push(event.request_id!);
    }
    assert.deepEqual(s1, ['1', '4', '7', '10']);
    const from = new Date('2026-05-02T00:00:00.000Z');
    const to = new Date('2026-05-02T12:00:00.000Z');
    const inWindow: string[] = [];
    for await (const { event } of readEvents(t.audit, { from, to })) inWindow.push(event.event_time);
    assert.ok(inWindow.length > 0);
    assert.ok(inWindow.every((x) => x >= from.toISOString() && x <= to.toISOString()));
    const none: unknown[] = [];
    for await (const e of readEvents(t.audit, { chainId: 'no-such-chain' })) none.push(e);
    assert.equal(none.length, 0);
  } finally {
    t.cleanup();
  }
});

test('readEvents: a malformed line throws unless handled; a torn last line is skipped and reported', async () => {
  const t = await seeded();
  try {
    const files = chainFiles(t.audit);
    appendFileSync(at(files, -1, 'audit chain file'), '{"torn');
    const issues: ReadIssue[] = [];
    let n = 0;
    for await (const _ of readEvents(t.audit, {}, { onInvalid: (i) => issues.push(i) })) n++;
    assert.ok(n > 12);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.torn, true);
    const lines = readLinesOf(at(files, 0, 'audit chain file'));
    lines[1] = 'garbage';
    writeLinesOf(at(files, 0, 'audit chain file'), lines);
    await assert.rejects(async () => {
      for await (const _ of readEvents(t.audit)) void _;
    }, AuditReadError);
    await assert.rejects(async () => {
      for await (const _ of readEvents(`${t.audit}-missing`)) void _;
    }, /does not exist/);
  } finally {
    t.cleanup();
  }
});

test('replay prints a session in order: actor, method/tool, SQL, decision, masked columns, rows, what the caller received, the stored copy labelled', async () => {
  const t = await seeded();
  try {
    const entries = await replaySession(new JsonlAuditStore(t.audit), 'sess-2');
    assert.deepEqual(
      entries.map((e) => e.event.request_id),
      ['2', '5', '8', '11'],
    );
    const text = formatReplay('sess-2', entries);
    assert.match(text, /^session sess-2: 4 event\(s\)/);
    assert.match(text, /mcp_request tools\/call execute_sql by user0@bank.example -> success/);
    assert.match(text, /sql:\n\s+SELECT name, ssn FROM customers WHERE id = \?/);
    assert.match(text, /decision: mask \[pii-ssn\]/);
    assert.match(text, /masked: ssn \(ssn, last4\)/);
    assert.match(text, /rows: 1/);
    // Written without a per-column record: what masked_columns says the caller received, then the stored copy, named as such.
    assert.match(
      text,
      /the caller received: ssn masked \(last4\) \(stored masked for storage \(not recorded per column\)\)\n\s+response — stored copy \(audit at rest: masked for storage whatever the caller saw\):\n\s+row 2: XXX-XX-1002/,
    );
    assert.ok(text.indexOf('row 2:') < text.indexOf('row 5:') && text.indexOf('row 5:') < text.indexOf('row 11:'));
    assert.equal(formatReplay('nope', await replaySession(new JsonlAuditStore(t.audit), 'nope')), 'session nope: no audit events found');
  } finally {
    t.cleanup();
  }
});

test('responseText reads MCP results and errors', () => {
  assert.equal(responseText(JSON.stringify({ content: [{ type: 'text', text: 'a' }, { type: 'image' }, { type: 'text', text: 'b' }] })), 'a\nb');
  assert.equal(responseText(JSON.stringify({ error: { code: -32000, message: 'denied by rule x' } })), 'error: denied by rule x');
  assert.equal(responseText(null), null);
});
