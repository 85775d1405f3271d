// Docker cannot run here; the Dockerfile's security-relevant properties are checked by parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Instr {
  op: string;
  args: string;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
export function instructions(text: string): Instr[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1].toUpperCase(), args: m[2] };
    });
}

function stages(ins: Instr[]): Instr[][] {
  const out: Instr[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

export function problems(text: string): string[] {
  const p: string[] = [];
  const ins = instructions(text);
  const st = stages(ins);
  if (st.length < 2) p.push('not multi-stage');
  const final = st.at(-1) ?? [];
  if (!/^node:20[-.\w]*/.test(final[0]?.args ?? '')) p.push('final stage is not Node 20');
  const user = final.filter((i) => i.op === 'USER').at(-1);
  if (!user || /^(root|0)(:|$)/.test(user.args)) p.push('final stage runs as root');
  for (const i of ins) {
    if ((i.op === 'ENV' || i.op === 'ARG') && /(SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY|CREDENTIAL)/i.test(i.args)) p.push(`secret-looking ${i.op}: ${i.args}`);
    if ((i.op === 'COPY' || i.op === 'ADD') && /(\.pem|\.key|\.env|credentials|service-account)/i.test(i.args)) p.push(`copies secret material: ${i.args}`);
    if (i.op === 'ADD' && /https?:\/\//.test(i.args)) p.push('ADD from URL');
  }
  const env = final.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
  if (!/PORT=8080/.test(env)) p.push('PORT default not set');
  if (!/BQWARDEN_USE_DIST=1/.test(env)) p.push('does not run compiled dist/');
  const cmd = final.filter((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT').at(-1);
  if (!cmd || !/bin\/bqwarden\.js/.test(cmd.args) || !/serve/.test(cmd.args)) p.push('CMD is not `bqwarden serve`');
  if (cmd && !cmd.args.trim().startsWith('[')) p.push('CMD not in exec form (signals would not reach node)');
  return p;
}

test('the linter catches a bad Dockerfile (adversarial)', () => {
  const bad = ['FROM node:18', 'ENV API_KEY=abc', 'COPY service-account.json /app/', 'ADD https://x/y /y', 'CMD node bin/bqwarden.js serve'].join('\n');
  const found = problems(bad);
  for (const want of ['not multi-stage', 'final stage is not Node 20', 'final stage runs as root', 'secret-looking ENV', 'copies secret material', 'ADD from URL', 'PORT default', 'exec form']) {
    assert.ok(found.some((f) => f.includes(want)), `expected problem: ${want} in ${JSON.stringify(found)}`);
  }
  assert.ok(problems(`FROM node:20 AS a\nFROM node:20\nUSER root\nENV PORT=8080 BQWARDEN_USE_DIST=1\nCMD ["node","bin/bqwarden.js","serve"]`).includes('final stage runs as root'));
});

test('Dockerfile: multi-stage Node 20, non-root, no secrets, PORT, compiled entry', () => {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.deepEqual(problems(text), []);
  assert.match(text, /npm run build/);
  assert.match(text, /npm prune --omit=dev/);
});

test('.dockerignore keeps local state and key material out of the build context', () => {
  const lines = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const must of ['.git', 'node_modules', 'data', '.env', '**/*.pem', '**/*.key']) assert.ok(lines.includes(must), must);
});
