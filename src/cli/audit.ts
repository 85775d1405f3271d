// Audit commands: `verify` and `replay` (top level, for examiners) and `audit public-key|seal`.
// Other sources (verify --bigquery) plug into `verify` through registerVerifySource.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { dataDir, paths } from '../config/paths.js';
import type { VerifyReport, VerifierOptions } from '../audit/verify.js';
import type { TrustedKey } from '../audit/checkpoint.js';

interface VerifySourceContext {
  /** Pinned keys with their sources (see src/cli/trust.ts). */
  publicKeys: TrustedKey[];
  requireSealed: boolean;
  /** The anchor store's anchors, when one is configured or given. */
  anchors?: VerifierOptions['anchors'] | null;
}

export interface VerifySource {
  /** Adds this source's options to the verify command (e.g. --bigquery <table> --from --to). */
  configure(cmd: Command): void;
  /** Returns a report when this source's options were given, null to fall through to the local directory. */
  run(opts: Record<string, unknown>, ctx: VerifySourceContext): Promise<VerifyReport> | null;
}

const sources = new Map<string, VerifySource>();
let verifyCmd: Command | null = null;

/** Plugs another audit store into `bqwarden verify`; its options are added to the command. */
export function registerVerifySource(name: string, source: VerifySource): void {
  // The same source again is a second program built in one process (in-process CLI tests).
  if (sources.get(name) === source) return;
  if (sources.has(name)) throw new Error(`verify source ${name} is already registered`);
  sources.set(name, source);
  if (verifyCmd) source.configure(verifyCmd);
}

function keysDirFor(auditDir: string, explicit?: string): string {
  if (explicit) return resolve(explicit);
  const sibling = join(dirname(resolve(auditDir)), 'keys');
  return existsSync(sibling) ? sibling : paths.keys();
}

function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

interface VerifyOpts {
  dir?: string;
  json?: boolean;
  key?: string[];
  keysDir?: string;
  config?: string;
  anchors?: string | boolean;
  gcsEndpoint?: string;
  requireSealed?: boolean;
  chain?: string;
  [k: string]: unknown;
}

function verifyCommand(program: Command): Command {
  const cmd = program
    .command('verify')
    .description('Verify the audit hash chain and checkpoint signatures; exit 1 on any break')
    .option('--dir <dir>', 'audit directory (default: <BQWARDEN_DATA, else data/ in the checkout>/audit)')
    .option('--key <pem-file>', 'pinned public key PEM to verify checkpoints with (repeatable; e.g. the Terraform output audit_signing_public_key_pem)', collect)
    .option('--config <file>', 'gateway config: its audit.trustedKeys are the pins, its audit.anchors the anchor store, its audit.dir the directory')
    .option('--keys-dir <dir>', 'where the demo key file is when nothing is pinned (default: keys/ beside the audit directory, else <data>/keys)')
    .option('--anchors <dir|gs://bucket/prefix>', "anchor store to compare the chain with (default: the config's, else anchors/ beside the audit directory)")
    .option('--no-anchors', 'do not compare with anchors')
    .option('--gcs-endpoint <url>', 'with gs:// anchors: JSON API endpoint override (test server)')
    .option('--require-sealed', 'every chain must end with gateway_stop + a signed checkpoint (archived logs)')
    .option('--chain <id>', 'only this chain')
    .option('--json', 'machine-readable report');
  cmd.action(async (opts: VerifyOpts) => {
    const { verifyDir, formatReport } = await import('../audit/verify.js');
    const { resolveTrust } = await import('./trust.js');
    try {
      const trust = await resolveTrust({
        auditDir: resolve(opts.dir ?? paths.audit()),
        key: opts.key,
        keysDir: opts.keysDir,
        config: opts.config,
        anchors: opts.anchors,
        gcsEndpoint: opts.gcsEndpoint,
      });
      const dir = resolve(opts.dir ?? trust.auditDir ?? paths.audit());
      const ctx: VerifySourceContext = { publicKeys: trust.publicKeys, requireSealed: Boolean(opts.requireSealed), anchors: trust.anchors };
      let report: VerifyReport | null = null;
      for (const s of sources.values()) {
        const run = s.run(opts, ctx);
        if (run) {
          report = await run;
          break;
        }
      }
      report ??= await verifyDir(dir, { publicKeys: trust.publicKeys, requireSealed: ctx.requireSealed, chainId: opts.chain, anchors: trust.anchors ?? undefined });
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
      process.exitCode = report.ok ? 0 : 1;
    } catch (err) {
      process.stderr.write(`verify: ${(err as Error).message}\n`);
      process.exitCode = 2;
    }
  });
  verifyCmd = cmd;
  for (const s of sources.values()) s.configure(cmd);
  return cmd;
}

export function register(program: Command): void {
  verifyCommand(program);

  program
    .command('replay [session-id]')
    .description("Print a session's requests and responses in order from the audit store; without an id, list the sessions")
    .option('--dir <dir>', 'audit directory (default: <BQWARDEN_DATA or data/ in the checkout>/audit)')
    .option('--limit <n>', 'sessions listed without an id', '20')
    .option('--json', 'the events (or the session list) as JSON')
    .action(async (sessionId: string | undefined, opts: { dir?: string; json?: boolean; limit: string }) => {
      const { replaySession, formatReplay, replayJson, listSessions, formatSessions } = await import('../audit/replay.js');
      const { JsonlAuditStore } = await import('../audit/store-jsonl.js');
      try {
        const warnings: string[] = [];
        const dir = resolve(opts.dir ?? paths.audit());
        const onInvalid = (i: { file: string; line: number; reason: string }) => warnings.push(`${i.file}:${i.line}: ${i.reason}`);
        if (sessionId === undefined) {
          const sessions = await listSessions(new JsonlAuditStore(dir), onInvalid);
          const { cliCommand, shellWord } = await import('../config/invocation.js');
          const command = (id: string) => `${cliCommand({ dataDir: dataDir() })} replay ${shellWord(id)}${opts.dir ? ` --dir ${shellWord(dir)}` : ''}`;
          const limit = Number.isInteger(Number(opts.limit)) && Number(opts.limit) > 0 ? Number(opts.limit) : 20;
          process.stdout.write((opts.json ? JSON.stringify({ sessions }, null, 2) : formatSessions(sessions, command, limit)) + '\n');
        } else {
          const entries = await replaySession(new JsonlAuditStore(dir), sessionId, onInvalid);
          process.stdout.write((opts.json ? replayJson(sessionId, entries) : formatReplay(sessionId, entries)) + '\n');
          if (entries.length === 0) process.exitCode = 1;
        }
        for (const w of warnings) process.stderr.write(`replay: skipped unreadable line ${w}\n`);
      } catch (err) {
        process.stderr.write(`replay: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });

  const audit = program.command('audit').description('Audit log keys and maintenance');
  audit
    .command('public-key')
    .description('Print the checkpoint verification key (PEM) and its fingerprint; generates the pair on first use')
    .option('--keys-dir <dir>', 'key directory (default: <data>/keys)')
    .option('--key-file <file>', 'derive from this private key file instead (production: the mounted secret)')
    .action(async (opts: { keysDir?: string; keyFile?: string }) => {
      const { loadOrCreateSigner } = await import('../audit/checkpoint.js');
      try {
        const signer = loadOrCreateSigner({ keysDir: resolve(opts.keysDir ?? paths.keys()), signingKeyFile: opts.keyFile ?? null });
        process.stdout.write(`${signer.publicKeyPem.trimEnd()}\nfingerprint: ${signer.keyId}\n`);
      } catch (err) {
        process.stderr.write(`audit public-key: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
  audit
    .command('seal')
    .description("Repair a crashed gateway's torn tail and seal its chain (gateway_stop + signed checkpoint); the gateway must be stopped")
    .option('--dir <dir>', 'audit directory (default: <data>/audit)')
    .option('--keys-dir <dir>', 'key directory (default: <data>/keys)')
    .option('--key-file <file>', 'signing key file (production: the mounted secret)')
    .action(async (opts: { dir?: string; keysDir?: string; keyFile?: string }) => {
      const { loadOrCreateSigner } = await import('../audit/checkpoint.js');
      const { JsonlSink } = await import('../sinks/jsonl.js');
      const { AuditLog } = await import('../audit/log.js');
      const { hostname } = await import('node:os');
      try {
        const dir = resolve(opts.dir ?? paths.audit());
        const signer = loadOrCreateSigner({ keysDir: keysDirFor(dir, opts.keysDir), signingKeyFile: opts.keyFile ?? null, allowGenerate: false });
        const sink = await JsonlSink.open({ dir, onNotice: (m) => process.stderr.write(m + '\n') });
        const log = await AuditLog.open({ sink, signer, gatewayVersion: 'bqwarden-cli', instance: hostname() });
        const head = log.head();
        await log.close({ decision_reason: 'sealed by `bqwarden audit seal`' });
        process.stdout.write(`sealed chain ${head.chainId} after seq ${head.nextSeq - 1}\n`);
      } catch (err) {
        process.stderr.write(`audit seal: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}
