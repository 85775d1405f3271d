// Runs the `bqwarden` command tree in this process, the way bin/bqwarden.js would run it, and
// returns what it printed and its exit code. Spawning a node per CLI test cost ~0.5-1 s each
// on a loaded machine; only tests where the separate process is the point (signals, crashes,
// the demo as a user starts it) still spawn bin/bqwarden.js.
import { Readable } from 'node:stream';
import { CommanderError, type Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let running = false;

export async function runCli(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): Promise<CliResult> {
  // Output capture and env are process-wide: two runs at once would mix their output.
  if (running) throw new Error('runCli: one in-process CLI run at a time');
  running = true;
  const out: string[] = [];
  const err: string[] = [];
  const writes = { out: process.stdout.write, err: process.stderr.write };
  const savedEnv = new Map(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
  const savedCwd = process.cwd();
  const savedExitCode = process.exitCode;
  const stdinDescriptor = Object.getOwnPropertyDescriptor(process, 'stdin');
  // The CLI writes strings; node:test's own reporter in this process writes serialized Buffers
  // to stdout while a test runs, and those must reach the runner untouched.
  const capture = (sink: string[], original: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown) => {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean).call(stream, chunk, encoding, cb);
      sink.push(chunk);
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') done();
      return true;
    }) as typeof process.stdout.write;
  let code = 0;
  try {
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (opts.cwd) process.chdir(opts.cwd);
    if (opts.input !== undefined) Object.defineProperty(process, 'stdin', { value: Readable.from([Buffer.from(opts.input)]), configurable: true, enumerable: true, writable: true });
    process.exitCode = undefined;
    process.stdout.write = capture(out, writes.out, process.stdout);
    process.stderr.write = capture(err, writes.err, process.stderr);
    const program: Command = buildProgram();
    const exitOverride = (cmd: Command) => {
      cmd.exitOverride();
      cmd.commands.forEach(exitOverride);
    };
    exitOverride(program);
    try {
      await program.parseAsync(['node', 'bqwarden', ...args]);
      code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
    } catch (e) {
      if (e instanceof CommanderError) code = e.exitCode;
      else {
        err.push(`${(e as Error).stack ?? String(e)}\n`);
        code = 1;
      }
    }
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    if (stdinDescriptor) Object.defineProperty(process, 'stdin', stdinDescriptor);
    process.chdir(savedCwd);
    for (const [k, v] of savedEnv) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    process.exitCode = savedExitCode;
    running = false;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}
