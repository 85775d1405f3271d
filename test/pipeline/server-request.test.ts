// Server->client requests (sampling, elicitation, roots) that the upstream makes through the
// gateway are audited like client requests: prompt and answer kept, scanned by the detectors,
// and a failed relay recorded before the error goes back upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.js';
import { JsonlSink } from '../../src/sinks/jsonl.js';
import { loadOrCreateSigner } from '../../src/audit/checkpoint.js';
import { readEvents } from '../../src/audit/reader.js';
import type { RequestContext } from '../../src/pipeline/types.js';
import { REPO } from '../helpers/gateway.js';
import { ctxFor, pipelineFor } from './helpers.js';

test('sampling relayed through the gateway is audited, with client text scanned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqwarden-srvreq-'));
  try {
    const audit = await AuditLog.open({ sink: await JsonlSink.open({ dir: join(dir, 'audit') }), signer: loadOrCreateSigner({ keysDir: join(dir, 'keys') }), gatewayVersion: 't', instance: 't' });
    const pipeline = await pipelineFor(join(REPO, 'rules'), audit);
    const ctx: RequestContext = { ...ctxFor('ana@bank.example', ['analyst']), requestId: '7', traceId: 't' };
    const answer = { role: 'assistant', content: { type: 'text', text: 'the customer with SSN 123-45-6789 asked' }, model: 'm' };
    const got = await pipeline.onServerRequest!(
      ctx,
      'sampling/createMessage',
      { messages: [{ role: 'user', content: { type: 'text', text: 'summarise 523-41-7790' } }], maxTokens: 10 },
      async () => answer,
    );
    assert.deepEqual(got, answer, 'the answer goes upstream unchanged');
    await assert.rejects(
      pipeline.onServerRequest!(ctx, 'elicitation/create', { message: 'x' }, async () => {
        throw new Error('user declined');
      }),
      /declined/,
    );
    await audit.close();

    const events = [];
    for await (const { event } of readEvents(join(dir, 'audit'))) events.push(event);
    const sampling = events.find((e) => e.mcp_method === 'sampling/createMessage');
    assert.ok(sampling, 'sampling audited');
    assert.equal(sampling.session_id, 's-1');
    assert.equal(sampling.actor_email, 'ana@bank.example');
    assert.ok(!`${sampling.request_json}${sampling.response_json}`.includes('123-45-6789'), 'SSN in the answer is not stored in clear');
    assert.ok(!`${sampling.request_json}`.includes('523-41-7790'), 'SSN in the prompt is not stored in clear');
    assert.match(String(sampling.request_json), /server_to_client/);
    const elicitation = events.find((e) => e.mcp_method === 'elicitation/create');
    assert.equal(elicitation?.outcome, 'error');
    assert.equal(elicitation?.error_code, 'client_error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
