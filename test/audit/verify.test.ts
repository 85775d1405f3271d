// One attack per kind of break: each test tampers with a sealed chain the way an insider
// would, and the verifier must name the break with its file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync, truncateSync, statSync } from 'node:fs';
import { createVerifier, formatReport, verifyDir, type VerifyReport } from '../../src/audit/verify.js';
import { hashValidEvent } from '../../src/audit/hash.js';
import { canonicalEventParts } from '../../src/audit/canonical.js';
import { AuditEventSchema } from '../../src/audit/event.js';
import { signerFromPrivateKey } from '../../src/audit/checkpoint.js';
import { readLinesOf, writeChain, writeLinesOf } from './helpers.js';
import { at, first } from '../helpers/present.js';

function kinds(r: VerifyReport): string[] {
  return r.breaks.map((b) => b.kind);
}

function rehash(line: string, edit: (e: Record<string, unknown>) => void): string {
  const e = JSON.parse(line);
  edit(e);
  const ev = AuditEventSchema.parse(e);
  ev.hash = hashValidEvent(ev);
  return canonicalEventParts(ev).full;
}

test('an untouched sealed chain verifies OK', async () => {
  const { t, keys } = await writeChain(12);
  try {
    const r = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true });
    assert.equal(r.ok, true, formatReport(r));
    assert.equal(r.chains.length, 1);
    assert.equal(first(r.chains, 'chain').sealed, true);
    assert.ok(first(r.chains, 'chain').checkpoints >= 3);
    assert.match(formatReport(r), /^audit chain verification: OK/);
  } finally {
    t.cleanup();
  }
});

test('edited field: hash mismatch at the edited line', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    lines[3] = at(lines, 3, 'chain line').replace('"rows_returned":1', '"rows_returned":0');
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['hash_mismatch']);
    assert.equal(r.breaks[0]!.line, 4);
    assert.equal(r.breaks[0]!.file, file);
    assert.match(formatReport(r), new RegExp(`BREAK\\s+hash_mismatch .* seq=3 at ${file}:4`));
  } finally {
    t.cleanup();
  }
});

test('edited field with a recomputed hash: the next link breaks', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    lines[1] = rehash(at(lines, 1, 'chain line'), (e) => (e.actor_email = 'someone-else@bank.example'));
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['broken_link']);
    assert.equal(r.breaks[0]!.line, 3);
  } finally {
    t.cleanup();
  }
});

test('rebuilt chain after an edit (every hash recomputed): checkpoint signature fails', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    const out = lines.slice();
    for (let i = 0; i < out.length; i++) {
      out[i] = rehash(lines[i]!, (e) => {
        if (i === 1) e.sql_text = 'SELECT 1';
        if (i > 0) e.prev_hash = JSON.parse(out[i - 1]!).hash;
      });
    }
    writeLinesOf(file, out);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.ok(kinds(r).length > 0);
    assert.ok(
      kinds(r).every((k) => k === 'bad_signature'),
      kinds(r).join(),
    );
  } finally {
    t.cleanup();
  }
});

test('deleted line: seq gap naming the missing seq and where', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    lines.splice(2, 1);
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['seq_gap']);
    assert.equal(r.breaks[0]!.seq, 2);
    assert.equal(r.breaks[0]!.line, 3);
    assert.match(r.breaks[0]!.message, /seq 2/);
  } finally {
    t.cleanup();
  }
});

test('two lines swapped: reordered', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    [lines[2], lines[4]] = [at(lines, 4, 'chain line'), at(lines, 2, 'chain line')];
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.ok(kinds(r).includes('reordered'), kinds(r).join());
    assert.ok(!kinds(r).includes('seq_gap'), 'a moved event is not also reported missing');
  } finally {
    t.cleanup();
  }
});

test('file truncated mid-line: torn_line at the last line', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const n = readLinesOf(file).length;
    truncateSync(file, statSync(file).size - 100);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.ok(kinds(r).includes('torn_line'), kinds(r).join());
    assert.equal(r.breaks.find((b) => b.kind === 'torn_line')!.line, n);
  } finally {
    t.cleanup();
  }
});

test('tail removed: reported as an open tail, and a break for archived (sealed) chains', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    writeLinesOf(file, lines.slice(0, -4));
    const open = await verifyDir(t.audit, { publicKeys: keys });
    assert.ok(open.notices.some((n) => n.kind === 'open_tail'));
    assert.equal(first(open.chains, 'chain').sealed, false);
    const archived = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true });
    assert.deepEqual(kinds(archived), ['unsigned_tail']);
    // cut exactly after a periodic checkpoint: signed, but not sealed
    const cpLine = lines.findIndex((l, i) => i > 0 && JSON.parse(l).event_type === 'checkpoint');
    writeLinesOf(file, lines.slice(0, cpLine + 1));
    const cut = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true });
    assert.deepEqual(kinds(cut), ['unsealed']);
  } finally {
    t.cleanup();
  }
});

test('forged checkpoint signature: bad_signature', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    const i = lines.length - 1; // the sealing checkpoint: nothing after it to relink
    // flip the signature but keep the hash consistent, as a forger who knows the format would
    lines[i] = rehash(at(lines, i, 'sealing checkpoint'), (e) => {
      const sig = Buffer.from(e.signature as string, 'base64');
      sig[0] = sig.readUInt8(0) ^ 1;
      e.signature = sig.toString('base64');
    });
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['bad_signature']);
    assert.equal(r.breaks[0]!.line, i + 1);
    // a checkpoint with its signature stripped is no better
    lines[i] = rehash(at(lines, i, 'sealing checkpoint'), (e) => {
      e.signature = null;
    });
    writeLinesOf(file, lines);
    assert.deepEqual(kinds(await verifyDir(t.audit, { publicKeys: keys })), ['bad_signature']);
  } finally {
    t.cleanup();
  }
});

test('checkpoint re-signed with another key: unknown_key; and no keys at all fails closed', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const other = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    const lines = readLinesOf(file);
    const i = lines.length - 1;
    lines[i] = rehash(at(lines, i, 'sealing checkpoint'), (e) => {
      e.signature = other.sign(e.chain_id as string, e.seq as number, e.prev_hash as string);
      e.signing_key_id = other.keyId;
    });
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['unknown_key']);
    const none = await verifyDir(t.audit, { publicKeys: [] });
    assert.equal(none.ok, false);
    assert.ok(kinds(none).every((k) => k === 'unknown_key'));
    // the attacker's key given to the verifier does not make the real checkpoints pass either way
    const wrongOnly = await verifyDir(t.audit, { publicKeys: [other.publicKeyPem] });
    assert.ok(kinds(wrongOnly).includes('unknown_key'));
  } finally {
    t.cleanup();
  }
});

test('duplicated line: a duplicate notice, not a break; a different event on the same seq is a break', async () => {
  const { t, file, keys } = await writeChain(8);
  try {
    const lines = readLinesOf(file);
    const dup = [...lines.slice(0, 4), at(lines, 2, 'chain line'), ...lines.slice(4)];
    writeLinesOf(file, dup);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.equal(r.ok, true, formatReport(r));
    assert.ok(r.notices.some((n) => n.kind === 'duplicate' && n.seq === 2 && n.line === 5));
    const conflict = [...lines.slice(0, 4), rehash(at(lines, 2, 'chain line'), (e) => (e.rows_returned = 99)), ...lines.slice(4)];
    writeLinesOf(file, conflict);
    const r2 = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r2), ['conflicting_duplicate']);
  } finally {
    t.cleanup();
  }
});

test('extra field smuggled into a line: not_canonical; garbage line: malformed', async () => {
  const { t, file, keys } = await writeChain(6);
  try {
    const lines = readLinesOf(file);
    lines[1] = at(lines, 1, 'chain line').replace('{', '{"zz_note":"hidden",');
    lines[2] = 'this is not json';
    writeLinesOf(file, lines);
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.ok(kinds(r).includes('not_canonical'), kinds(r).join());
    assert.ok(kinds(r).includes('malformed'), kinds(r).join());
  } finally {
    t.cleanup();
  }
});

test('first lines removed: missing_genesis', async () => {
  const { t, file, keys } = await writeChain(6);
  try {
    writeLinesOf(file, readLinesOf(file).slice(2));
    const r = await verifyDir(t.audit, { publicKeys: keys });
    assert.deepEqual(kinds(r), ['missing_genesis']);
    // a window (BigQuery --from/--to) may start mid-chain
    const v = createVerifier({ publicKeys: keys, partial: true });
    readLinesOf(file).forEach((l, i) => v.push(AuditEventSchema.parse(JSON.parse(l)), { ref: `row ${i}` }));
    assert.equal(v.finish().ok, true);
  } finally {
    t.cleanup();
  }
});

test('event appended after the seal by hand (valid hash and link): reported as unsigned tail', async () => {
  const { t, file, keys } = await writeChain(4);
  try {
    const lines = readLinesOf(file);
    const last = JSON.parse(at(lines, -1, 'chain line'));
    const forged = rehash(at(lines, 1, 'chain line'), (e) => {
      e.seq = last.seq + 1;
      e.prev_hash = last.hash;
      e.event_id = 'forged';
    });
    appendFileSync(file, forged + '\n');
    const r = await verifyDir(t.audit, { publicKeys: keys, requireSealed: true });
    assert.deepEqual(kinds(r), ['unsigned_tail']);
  } finally {
    t.cleanup();
  }
});

test('JSON report carries kind, chain, seq, file and line', async () => {
  const { t, file, keys } = await writeChain(4);
  try {
    const lines = readLinesOf(file);
    lines[1] = at(lines, 1, 'chain line').replace('"decision":"mask"', '"decision":"allow"');
    writeLinesOf(file, lines);
    const r = JSON.parse(JSON.stringify(await verifyDir(t.audit, { publicKeys: keys })));
    assert.equal(r.ok, false);
    assert.deepEqual(Object.keys(r).sort(), ['anchors', 'breaks', 'chains', 'events', 'intents', 'keys', 'notices', 'ok']);
    assert.equal(r.breaks[0].kind, 'hash_mismatch');
    assert.equal(r.breaks[0].chain, JSON.parse(at(lines, 0, 'chain line')).chain_id);
    assert.equal(r.breaks[0].seq, 1);
    assert.equal(r.breaks[0].line, 2);
    assert.equal(readFileSync(file, 'utf8').length > 0, true);
  } finally {
    t.cleanup();
  }
});

test('a missing directory is an error, never OK', async () => {
  await assert.rejects(verifyDir('/nonexistent/bqwarden/audit', { publicKeys: [] }), /does not exist/);
});
