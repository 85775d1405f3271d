// Every command the product prints works when pasted into a shell in any folder: the demo
// banner's lines, the hold message's approver lines, what `approvals show` offers, an error's
// suggested command, and the README's quick start — each run with bash from a fresh temporary
// folder, in a fresh environment (no PORT, no BQWARDEN_DATA unless the line itself carries it).
// The CLI is installed the two ways the README gives (`npm link`, `npm install -g .`) into
// temporary prefixes, and no document sends anyone to the npm registry for bqwarden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REPO } from '../helpers/gateway.js';
import { freePort } from '../../src/demo/toolbox.js';
import { mintDevToken } from '../../src/identity/dev-issuer.js';

const exec = promisify(execFile);
type Result = { content?: { type: string; text?: string }[]; isError?: boolean; _meta?: Record<string, any> };
const text = (r: Result) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

/** A shell as a person opens one: PATH (node first) and HOME, nothing of this test's environment. */
function freshEnv(extraPath: string[] = []): Record<string, string> {
  return { PATH: [...extraPath, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'), HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
}

/** Runs one pasted line with bash in `cwd`; resolves with its exit code and output. */
function paste(line: string, cwd: string, env: Record<string, string>, input: string | null = null): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { cwd, env, stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (input !== null) child.stdin!.end(input);
    child.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

/**
 * Runs a pasted line at a terminal (a pty from util-linux `script`), answering each prompt when
 * it appears, as a person would.
 */
function pasteAtTerminal(line: string, cwd: string, env: Record<string, string>, answers: [RegExp, string][]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', line, '/dev/null'], { cwd, env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const pending = [...answers];
    const onData = (d: Buffer) => {
      out += d.toString();
      while (pending.length && pending[0]![0].test(out)) child.stdin!.write(`${pending.shift()![1]}\n`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function waitFor(child: ChildProcess, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (d: Buffer) => {
      acc += d.toString();
      if (until.test(acc)) {
        child.stdout!.off('data', onData);
        resolve(acc);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${until}:\n${acc}`)));
  });
}

/** The command lines of a block of text: indented lines that start a command, not prose. */
function commandLines(block: string, cli: string): string[] {
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(cli) || l.startsWith('TOKEN=$(') || l.startsWith('BQWARDEN_DATA='));
}

async function mcp(url: string, token: string): Promise<Client> {
  const c = new Client({ name: 'printed-commands', version: '1' });
  try {
    await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  } catch (err) {
    throw new Error(`connecting with token ${JSON.stringify(token.slice(0, 40))}…: ${(err as Error).message}`);
  }
  return c;
}

test('no document or printed text sends anyone to the npm registry for bqwarden', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (['node_modules', 'dist', '.git', '.tmp', 'data', 'test'].includes(name)) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(md|ts|js|yaml|tf|sh)$/.test(name)) {
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((l, i) => {
            // The one sentence that warns against it is allowed.
            if (/npx (-y |--yes |--no-install |--no )?bqwarden\b/.test(l) && !/never run `npx bqwarden`|`npx bqwarden` is never printed/.test(l))
              offenders.push(`${p.slice(REPO.length + 1)}:${i + 1}: ${l.trim()}`);
          });
      }
    }
  };
  walk(REPO);
  assert.deepEqual(offenders, []);
});

test('every command the demo prints, and the README quick start, works pasted in any folder', { timeout: 900_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'bqw-printed-'));
  const data = join(work, 'data');
  const clean = mkdtempSync(join(tmpdir(), 'bqw-anywhere-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(clean, { recursive: true, force: true });
  });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // npm start as a user runs it, with this run's port and data directory.
  const demo = spawn('npm', ['start'], { cwd: REPO, env: { ...process.env, PORT: String(port), BQWARDEN_DATA: data }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.after(() => {
    try {
      process.kill(-demo.pid!, 'SIGTERM');
    } catch {
      // gone already
    }
  });
  const banner = await waitFor(demo, /Ctrl-C stops/);
  const env = freshEnv();

  // The banner names the program by its path (bqwarden is not linked in this shell) and carries
  // the data directory; no placeholder, no npx.
  const cli = `BQWARDEN_DATA=${data} node ${join(REPO, 'bin', 'bqwarden.js')}`;
  const lines = commandLines(banner, cli);
  assert.ok(lines.length >= 5, `banner commands:\n${banner}`);
  for (const l of lines) assert.doesNotMatch(l, /<[a-z-]+>|npx bqwarden/, l);

  // Each banner line, pasted in a clean folder.
  const tokenLine = lines.find((l) => l.startsWith('TOKEN=$('))!;
  const minted = await paste(`${tokenLine} && printf %s "$TOKEN"`, clean, env);
  assert.equal(minted.code, 0, minted.err);
  assert.match(minted.out.trim(), /^ey[\w-]+\.[\w-]+\.[\w-]+$/, `${tokenLine}\n${minted.out}\n${minted.err}`);
  const alice = await mcp(`${base}/mcp`, minted.out.trim());
  t.after(() => alice.close());
  assert.match(
    text((await alice.callTool({ name: 'execute_sql', arguments: { sql: 'SELECT ssn FROM customers LIMIT 1' } })) as Result),
    /XXXXX\d{4}/,
    'the printed token command mints a token the gateway accepts',
  );
  for (const l of lines.filter((x) => x !== tokenLine)) {
    const r = await paste(l, clean, env);
    assert.equal(r.code, 0, `${l}\n${r.out}\n${r.err}`);
  }
  const sessions = await paste(lines.find((l) => l.endsWith(' replay'))!, clean, env);
  const replayLine = sessions.out
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith(cli) && / replay \S+$/.test(l));
  assert.ok(replayLine, sessions.out);
  const replayed = await paste(replayLine, clean, env);
  assert.equal(replayed.code, 0, replayed.err);
  assert.match(replayed.out, /tools\/call execute_sql/, 'the replay command a session listing prints replays it');

  // An engineer's DELETE is held; the hold message's approver lines work as printed.
  const eveToken = await mintDevToken({ dataDir: data, issuer: `${base}/dev-issuer`, audience: `${base}/mcp`, user: 'eve@bank.example', groups: ['engineer'], mode: 'demo' });
  const eve = await mcp(`${base}/mcp`, eveToken);
  t.after(() => eve.close());
  const del = 'DELETE FROM transactions WHERE txn_id = 3';
  const held = (await eve.callTool({ name: 'execute_sql', arguments: { sql: del, justification: 'duplicate row, INC-3' } })) as Result;
  assert.equal(held.isError, true);
  const id = /apr-[a-z0-9]+/.exec(text(held))![0];
  const holdLines = commandLines(text(held), cli);
  assert.deepEqual(
    holdLines.map((l) => l.split(' ').slice(-2).join(' ')),
    [`show ${id}`, `approve ${id}`, `reject ${id}`],
  );
  const show = await paste(holdLines[0]!, clean, env);
  assert.equal(show.code, 0, show.err);
  assert.ok(show.out.includes(del), 'show prints the exact statement');
  // Without a terminal the approve line decides nothing and says what to do.
  const blind = await paste(holdLines[1]!, clean, env);
  assert.equal(blind.code, 1);
  assert.match(blind.err, /run it at a terminal to be asked, or pass --yes/);
  // The approve line `show` offers, at a terminal: it asks for a reason and a yes.
  const offered = commandLines(show.out.split('You may approve:')[1] ?? '', cli)[0];
  assert.ok(offered, show.out);
  const approved = await pasteAtTerminal(offered, clean, env, [
    [/Reason for approving/, 'checked the duplicate with ops'],
    [/Type yes to confirm/, 'yes'],
  ]);
  assert.equal(approved.code, 0, approved.out);
  assert.match(approved.out, new RegExp(`approved: ${id}`));

  const ran = (await eve.callTool({ name: 'execute_sql', arguments: { sql: del, justification: 'duplicate row, INC-3' } })) as Result;
  assert.notEqual(ran.isError, true, text(ran));
  assert.match(text(ran), new RegExp(`executed under approval ${id} — requested by eve@bank\\.example, approved by bob@bank\\.example \\("checked the duplicate with ops"\\); rows affected: 1\\.`));
  const again = (await eve.callTool({ name: 'execute_sql', arguments: { sql: del, justification: 'duplicate row, INC-3' } })) as Result;
  assert.match(text(again), /already ran at .*1 row affected/);

  // An error that suggests a command: the suggestion runs.
  const noCreds = await paste(`node ${join(REPO, 'bin', 'bqwarden.js')} approvals --url ${base} list`, clean, env);
  assert.equal(noCreds.code, 1);
  const suggested = /in the demo, sign in as an approver: (.*)$/m.exec(noCreds.err)?.[1];
  assert.ok(suggested, noCreds.err);
  const fixed = await paste(`BQWARDEN_DATA=${data} ${suggested}`, clean, env);
  assert.equal(fixed.code, 0, fixed.err);
  assert.match(fixed.out, new RegExp(id));

  // The README's quick start, with `bqwarden` installed the way it says (npm link, in the
  // checkout) into a temporary prefix. The README's commands use the checkout's data/ and port
  // 8080; this run exports the two documented overrides instead.
  const prefix = join(work, 'prefix');
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const quick = readme.slice(readme.indexOf('## Try the demo'), readme.indexOf('## Documentation'));
  const shellLines = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split('\n'))
    .map((l) => l.trim())
    .filter(Boolean);
  assert.ok(shellLines.includes('npm link                                    # or: npm install -g .'), shellLines.join('\n'));
  const linkEnv = { ...freshEnv([join(prefix, 'bin')]), npm_config_prefix: prefix };
  for (const line of shellLines) {
    if (line.startsWith('npm start')) continue; // running above
    const inCheckout = line.startsWith('npm link');
    const command = line.replace(/\s+#\s.*$/, ''); // the README's trailing comments
    const r = await paste(command.startsWith('TOKEN=$(') ? `${command} && printf %s "$TOKEN"` : command, inCheckout ? REPO : clean, { ...linkEnv, PORT: String(port), BQWARDEN_DATA: data });
    assert.equal(r.code, 0, `${line}\n${r.out}\n${r.err}`);
    if (line.startsWith('TOKEN=$(')) {
      const c = await mcp(`${base}/mcp`, r.out.trim());
      assert.ok((await c.listTools()).tools.length > 0);
      await c.close();
    }
  }
  // And `npm install -g .`, the other way the README gives.
  const globalPrefix = join(work, 'global');
  const installed = await exec('npm', ['install', '-g', '.', '--no-audit', '--no-fund'], { cwd: REPO, env: { ...freshEnv(), npm_config_prefix: globalPrefix } });
  assert.ok(installed);
  const viaGlobal = await paste('bqwarden verify', clean, { ...freshEnv([join(globalPrefix, 'bin')]), BQWARDEN_DATA: data });
  assert.equal(viaGlobal.code, 0, viaGlobal.err);
  assert.match(viaGlobal.out, /intact|OK/i);
});
