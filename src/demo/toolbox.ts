// Runs Google's MCP Toolbox for Databases (npm @toolbox-sdk/server) as a child process:
// `--prebuilt sqlite` on the demo database. Used by `npm start` and the end-to-end tests.
//
// A Toolbox on a loopback port answers every local process. The demo therefore starts its
// Toolboxes with MCP authorization on (a `generic` auth service with mcpEnabled): every request
// must carry a JWT signed by a key that exists only in the gateway's memory for this run
// (toolbox-auth.ts). And the demo splits reads from writes the way production does: the read
// Toolbox opens the database read-only, approved statements go to a second, writable one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { UpstreamCredential } from '../identity/upstream-credential.js';
import type { ToolboxAuth } from './toolbox-auth.js';

export interface ToolboxProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** The gateway's credential for this Toolbox (none when started without auth). */
  credential: UpstreamCredential;
  stop(): Promise<void>;
}

/** The platform binary itself, so signals reach Toolbox and not a wrapper script. */
function toolboxBinary(): string {
  const require = createRequire(import.meta.url);
  const platformPkg = `@toolbox-sdk/server-${process.platform}-${process.arch === 'x64' ? 'x64' : process.arch}`;
  try {
    const bin = join(dirname(require.resolve(`${platformPkg}/package.json`)), 'bin', process.platform === 'win32' ? 'toolbox.exe' : 'toolbox');
    if (existsSync(bin)) return bin;
  } catch {
    // fall through to the wrapper
  }
  return join(dirname(require.resolve('@toolbox-sdk/server/package.json')), 'bin', 'run.js');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, log: () => string, credential: UpstreamCredential): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`MCP Toolbox exited with code ${child.exitCode} before it was ready:\n${log()}`);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(await credential.headers()) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
        signal: AbortSignal.timeout(1000),
      });
      if (res.status < 500 && res.status !== 401) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`MCP Toolbox not ready at ${url} after ${timeoutMs} ms (${lastError}):\n${log()}`);
}

export interface StartToolboxOptions {
  database: string;
  port?: number;
  timeoutMs?: number;
  onLog?: (line: string) => void;
  /** Open the database read-only (SQLite URI mode=ro): the engine refuses every write. */
  readOnly?: boolean;
  /** Require a token from this per-run issuer on every MCP request. */
  auth?: ToolboxAuth;
  /** A tools file (Toolbox config) instead of `--prebuilt sqlite`; not combined with auth. */
  toolsFile?: string;
}

export async function startToolbox(opts: StartToolboxOptions): Promise<ToolboxProcess> {
  const port = opts.port ?? (await freePort());
  const bin = toolboxBinary();
  const url = `http://127.0.0.1:${port}/mcp`;
  if (opts.toolsFile && opts.auth) throw new Error('startToolbox: toolsFile and auth are not combined');
  const args = [
    ...(opts.toolsFile ? ['--config', opts.toolsFile] : ['--prebuilt', 'sqlite']),
    '--address',
    '127.0.0.1',
    '--port',
    String(port),
    '--disable-version-check',
    '--disable-reload',
    '--allowed-hosts',
    `127.0.0.1:${port}`,
    '--allowed-hosts',
    `localhost:${port}`,
  ];
  let configDir: string | null = null;
  let credential: UpstreamCredential = { kind: 'none', headers: async () => ({}) };
  if (opts.auth) {
    // The file names only the public issuer and this Toolbox's audience; no secret is written.
    configDir = mkdtempSync(join(tmpdir(), 'bqwarden-toolbox-'));
    const file = join(configDir, 'auth.yaml');
    writeFileSync(file, opts.auth.toolboxConfig(url), { mode: 0o600 });
    args.push('--config', file, '--toolbox-url', `http://127.0.0.1:${port}`);
    credential = opts.auth.credential(url);
  }
  // SQLite URI filename: mode=ro makes the engine itself refuse writes on this connection.
  const database = opts.readOnly ? `${pathToFileURL(opts.database).href}?mode=ro` : opts.database;
  const cmd = bin.endsWith('.js') ? process.execPath : bin;
  const child = spawn(cmd, bin.endsWith('.js') ? [bin, ...args] : args, {
    env: { ...process.env, SQLITE_DATABASE: database },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  const onData = (d: Buffer) => {
    const s = d.toString();
    buf = (buf + s).slice(-8000);
    if (opts.onLog) for (const line of s.split('\n')) if (line.trim()) opts.onLog(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const stop = async () => {
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child, opts.timeoutMs ?? 30_000, () => buf, credential);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, child, credential, stop };
}

export interface DemoUpstreams {
  reader: ToolboxProcess;
  writer: ToolboxProcess;
  /** Gateway config for the two upstreams (merge into `upstream`). */
  upstream: { url: string; name: string; writer: { url: string; name: string } };
  /** Credentials to hand to startGateway: they exist only in this process. */
  credentials: { upstream: UpstreamCredential; writer: UpstreamCredential };
  stop(): Promise<void>;
}

/**
 * The demo's two Toolboxes on one SQLite file, both behind a per-run token: a read-only one
 * for everything, and a writable one that the gateway uses only for approved statements.
 */
export async function startDemoUpstreams(opts: { database: string; onLog?: (line: string) => void }): Promise<DemoUpstreams> {
  const { startToolboxAuth } = await import('./toolbox-auth.js');
  const auth = await startToolboxAuth();
  const started: ToolboxProcess[] = [];
  try {
    const reader = await startToolbox({ database: opts.database, readOnly: true, auth, onLog: opts.onLog });
    started.push(reader);
    const writer = await startToolbox({ database: opts.database, auth, onLog: opts.onLog });
    started.push(writer);
    return {
      reader,
      writer,
      upstream: { url: reader.url, name: 'toolbox-sqlite', writer: { url: writer.url, name: 'toolbox-sqlite-writer' } },
      credentials: { upstream: reader.credential, writer: writer.credential },
      async stop() {
        await Promise.all(started.map((t) => t.stop()));
        await auth.close();
      },
    };
  } catch (err) {
    await Promise.all(started.map((t) => t.stop()));
    await auth.close();
    throw err;
  }
}
