// The JSONL store decides filters on the raw line to skip parsing, which is sound only for lines
// in the writer's canonical form. A line edited on disk (an escaped character in its event type,
// a second event_type key, an unknown type) must not slip past the approvals fold or a session
// replay unseen: it is parsed, and then folded or refused by name. verify reports such a line as
// well (not_canonical / malformed); the readers must not quietly read around it meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonlAuditStore } from '../../src/audit/store-jsonl.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { openLog, request, tempData } from './helpers.js';

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.jsonl') ? [p] : [];
  });
}

async function withRejectedApproval(run: (dir: string, edit: (from: string, to: string) => void) => Promise<void>) {
  const t = tempData();
  try {
    const sink = await JsonlSink.open({ dir: t.audit, chainId: 'c1' });
    const { log } = await openLog(t.audit, t.keys, { sink, instance: 'c1' });
    const base = { approval_id: 'apr-1', sql_sha256: 'a'.repeat(64), tool_name: 'execute_sql', approval_expires_at: '2099-01-01T00:00:00.000Z', mcp_method: 'tools/call' } as const;
    await log.append({ ...request(1), ...base, event_type: 'approval_requested' });
    await log.append({ ...request(2), ...base, event_type: 'approval_rejected', decision_reason: 'no' });
    await log.append(request(3));
    await log.close();
    const edit = (from: string, to: string) => {
      for (const f of files(t.audit)) {
        const text = readFileSync(f, 'utf8');
        if (text.includes(from)) writeFileSync(f, text.replace(from, to));
      }
    };
    await run(t.audit, edit);
  } finally {
    t.cleanup();
  }
}

async function approvalTypes(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new JsonlAuditStore(dir).approvalEvents()) out.push(e.event_type);
  return out;
}

test('an approval line whose event type is escaped on disk is still folded (the raw filter does not hide it)', async () => {
  await withRejectedApproval(async (dir, edit) => {
    assert.deepEqual(await approvalTypes(dir), ['approval_requested', 'approval_rejected']);
    edit('"event_type":"approval_rejected"', '"event_type":"approval\\u005frejected"');
    assert.deepEqual(await approvalTypes(dir), ['approval_requested', 'approval_rejected'], 'the rejection still counts: the request must not look pending again');
  });
});

test('an approval line with an unknown event type stops the fold, naming the line', async () => {
  await withRejectedApproval(async (dir, edit) => {
    edit('"event_type":"approval_rejected"', '"event_type":"approval_rejectedX"');
    await assert.rejects(approvalTypes(dir), /jsonl:\d+: .*event_type/);
  });
});

test('a line with a second event_type key is read as JSON reads it, not by its first key', async () => {
  await withRejectedApproval(async (dir, edit) => {
    // JSON.parse keeps the last of two equal keys: the first one must not decide a skip.
    edit('"event_type":"approval_rejected"', '"event_type":"mcp_request","event_type":"approval_rejected"');
    const types = await approvalTypes(dir).catch((e: Error) => [`refused: ${e.message}`]);
    assert.ok(types.includes('approval_rejected') || types.some((t) => t.startsWith('refused')), JSON.stringify(types));
  });
});
