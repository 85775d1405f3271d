// Child processes for benchmarks (gateway, bare proxy) and their memory, read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Child {
  url: string;
  pid: number;
  /** How the child runs the gateway's code (compiled dist/ or tsx), when it says. */
  runtime?: string;
  child: ChildProcess;
  /** Sends a signal and waits for the JSON line the child answers with (`until` says which). */
  signal(sig: NodeJS.Signals, until: (message: Record<string, unknown>) => boolean): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `node [nodeArgs] script args` and waits for the JSON line ({url, pid}) it prints when ready. */
export async function startChild(script: string, args: string[], opts: { nodeArgs?: string[]; tsx?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Child> {
  const nodeArgs = [...((opts.tsx ?? script.endsWith('.ts')) ? ['--import', 'tsx'] : []), ...(opts.nodeArgs ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const lines: ((m: Record<string, unknown>) => void)[] = [];
  const ready = await new Promise<{ url: string; pid: number; runtime?: string }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} not ready:\n${log}`)), opts.timeoutMs ?? 60_000);
    let first = true;
    child.stdout!.on('data', (d) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl !== -1; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          if (first) reject(new Error(`${script}: unexpected output ${line.slice(0, 200)}`));
          continue;
        }
        if (first) {
          first = false;
          clearTimeout(timer);
          resolve(msg as { url: string; pid: number });
        } else for (const l of lines.splice(0)) l(msg);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}):\n${log}`));
    });
  });
  return {
    ...ready,
    child,
    signal(sig, until) {
      return new Promise((resolve) => {
        const wait = (m: Record<string, unknown>) => (until(m) ? resolve() : lines.push(wait));
        lines.push(wait);
        child.kill(sig);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resident set size of a process in MB (Linux /proc); NaN where /proc is absent. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(join('/proc', String(pid), 'status'), 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `everyMs`; `peak()` is the largest since the last `reset()`. */
export function rssSampler(pid: number, everyMs = 250) {
  let peak = 0;
  const t = setInterval(() => {
    const v = rssMb(pid);
    if (v > peak) peak = v;
  }, everyMs);
  t.unref();
  return {
    peak: () => Math.max(peak, rssMb(pid)),
    reset: () => {
      peak = 0;
    },
    stop: () => clearInterval(t),
  };
}
