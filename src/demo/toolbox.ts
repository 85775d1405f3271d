// Runs Google's MCP Toolbox for Databases (npm @toolbox-sdk/server) as a child process:
// `--prebuilt sqlite` on the demo database. Used by `npm start` and the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';

export interface ToolboxProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The platform binary itself, so signals reach Toolbox and not a wrapper script. */
export function toolboxBinary(): string {
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

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`MCP Toolbox exited with code ${child.exitCode} before it was ready:\n${log()}`);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
        signal: AbortSignal.timeout(1000),
      });
      if (res.status < 500) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`MCP Toolbox not ready at ${url} after ${timeoutMs} ms (${lastError}):\n${log()}`);
}

export async function startToolbox(opts: { database: string; port?: number; timeoutMs?: number; onLog?: (line: string) => void }): Promise<ToolboxProcess> {
  const port = opts.port ?? (await freePort());
  const bin = toolboxBinary();
  const args = ['--prebuilt', 'sqlite', '--address', '127.0.0.1', '--port', String(port), '--disable-version-check', '--disable-reload', '--allowed-hosts', `127.0.0.1:${port}`, '--allowed-hosts', `localhost:${port}`];
  const cmd = bin.endsWith('.js') ? process.execPath : bin;
  const child = spawn(cmd, bin.endsWith('.js') ? [bin, ...args] : args, {
    env: { ...process.env, SQLITE_DATABASE: opts.database },
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
  const url = `http://127.0.0.1:${port}/mcp`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child, opts.timeoutMs ?? 30_000, () => buf);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, child, stop };
}
