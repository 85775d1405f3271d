// `bqwarden approvals list | show <id> | approve <id> | reject <id>`: a client of the gateway's
// approvals API, authenticated like every other door (a bearer token; in the demo one can be
// minted from the dev issuer with --user/--groups). Deciding shows the request and asks first;
// scripts say --yes --reason, and without a terminal nothing is decided unless they do.
import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { dataDir } from '../config/paths.js';
import { cliCommand, shellWord } from '../config/invocation.js';
import { ageText, groupDuplicates, withRules, type ApprovalDetailView, type ApprovalView } from '../approvals/views.js';
import { groupList } from './options.js';
import { BqwardenError } from '../common/errors.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  /** A person at a terminal who can answer questions (stdin and stderr are TTYs). */
  interactive: boolean;
  /** Asks on the terminal and returns the answer (only called when interactive). */
  ask(question: string): Promise<string>;
  /** Releases the terminal once the command is done. */
  close?(): void;
}

interface GlobalOpts {
  url?: string;
  token?: string;
  user?: string;
  groups: string[];
  json?: boolean;
}

class CliError extends BqwardenError {
  constructor(message: string) {
    super('cli_error', message);
  }
}

function baseUrl(opts: GlobalOpts, env: NodeJS.ProcessEnv): string {
  const url = (opts.url ?? `http://127.0.0.1:${env.PORT ?? '8080'}`).replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url ${url} is not a URL`);
  }
  return url;
}

async function tokenFor(opts: GlobalOpts, url: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (opts.token) return opts.token;
  if (env.BQWARDEN_TOKEN) return env.BQWARDEN_TOKEN;
  if (opts.user) {
    // Demo only: the dev issuer refuses outside demo/dev and under NODE_ENV=production.
    const { mintDevToken } = await import('../identity/dev-issuer.js');
    return mintDevToken({ dataDir: dataDir(), issuer: `${url}/dev-issuer`, audience: `${url}/mcp`, user: opts.user, groups: opts.groups, mode: 'demo' });
  }
  throw new CliError(
    `no credentials: pass --token, or set BQWARDEN_TOKEN; in the demo, sign in as an approver: ${commandPrefix({ ...opts, user: 'bob@bank.example', groups: ['approver'] }, env)} list`,
  );
}

async function call<T>(io: CliIo, opts: GlobalOpts, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const url = baseUrl(opts, io.env);
  const token = await tokenFor(opts, url, io.env);
  let res: Response;
  try {
    res = await io.fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach the gateway at ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) throw new CliError(`${String(json.message ?? text.slice(0, 300))} (HTTP ${res.status}${json.error ? ` ${String(json.error)}` : ''})`);
  return json as T;
}

function oneLine(text: string | null, max: number): string {
  const t = (text ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function line(a: ApprovalView): string {
  const what = `${(a.statement_kinds.length ? a.statement_kinds : a.statement_types).join(',').toUpperCase()} ${a.tables.join(',')}`;
  return [a.id, a.status.padEnd(8), `${a.approvals.length}/${a.approvals_required}`, a.requester, what, `requested ${a.requested_at} (${ageText(a.age_seconds)} ago)`, `expires ${a.expires_at}`].join(
    '  ',
  );
}

/** The list: one block per request (SQL in its audit form, justification), duplicates of one call together. */
function listing(items: ApprovalView[]): string {
  return groupDuplicates(items)
    .map((g) =>
      g
        .map((a, i) =>
          [
            `${i ? '  same statement, same requester: ' : ''}${line(a)}`,
            `      sql: ${oneLine(a.sql_text, 200)}`,
            `      justification: ${a.justification ? oneLine(a.justification, 200) : '(none given)'}`,
          ].join('\n'),
        )
        .join('\n'),
    )
    .join('\n');
}

/** How this reviewer runs the CLI again: same program, gateway and demo identity (a token is never printed). */
function commandPrefix(g: GlobalOpts, env: NodeJS.ProcessEnv): string {
  const url = baseUrl(g, env);
  const parts = [cliCommand({ dataDir: dataDir(), env }), 'approvals'];
  if (url !== 'http://127.0.0.1:8080') parts.push('--url', shellWord(url));
  if (g.user) parts.push('--user', shellWord(g.user), ...(g.groups.length ? ['--groups', shellWord(g.groups.join(','))] : []));
  return parts.join(' ');
}

function details(a: ApprovalDetailView, prefix: string, tokenNote: string): string {
  const rows = [
    `Request        ${a.id}  [${a.status}]`,
    `Requester      ${a.requester} at ${a.requested_at} (${ageText(a.age_seconds)} ago)`,
    `Tool           ${a.tool}`,
    `Statement      ${a.statement_types.join(', ')} (${a.statement_kinds.join(', ')})`,
    `Tables         ${a.tables.join(', ') || '(none)'}`,
    `Justification  ${a.justification ?? '(none given)'}`,
    `Why            ${withRules(a.policy_reason, a.rule_ids)}`,
    `Needs          ${a.approvals_required} approval(s) from ${a.approver_roles.join(' or ')}`,
    `Approvals      ${a.approvals.map((v) => `${v.by} at ${v.at}${v.reason ? ` (${v.reason})` : ''}`).join('; ') || 'none yet'}`,
    ...(a.rejection ? [`Rejected       by ${a.rejection.by} at ${a.rejection.at}: ${a.rejection.reason ?? ''}`] : []),
    ...(a.execution ? [`Executed       ${a.execution.at} (${a.execution.outcome}${a.execution.rows_affected !== null ? `, ${a.execution.rows_affected} row(s) affected` : ''})`] : []),
    ...(a.duplicates.length ? [`Same call      ${a.duplicates.map((d) => `${d.id} ${d.status} (${d.requested_at})`).join('; ')}`] : []),
    `Expires        ${a.expires_at}`,
    `SQL sha256     ${a.sql_sha256}`,
    `Review page    ${a.review_url}`,
    '',
    a.exact_sql !== null ? 'Exact statement:' : 'Statement (audit form, literals redacted; exact text not held by this gateway):',
    a.exact_sql ?? a.sql_text ?? '',
    '',
    a.can_approve ? `You may approve${tokenNote}:\n  ${prefix} approve ${a.id}` : `You cannot approve: ${a.why_not ?? 'not available'}`,
    ...(a.can_reject ? [`You may reject${tokenNote}:\n  ${prefix} reject ${a.id}`] : []),
  ];
  return rows.join('\n');
}

/** Registers with explicit I/O (tests); register() below uses the process's. */
export function registerWith(program: Command, io: CliIo): void {
  const cmd = program
    .command('approvals')
    .description('Review and decide approval requests through the gateway API')
    .option('--url <url>', 'gateway base URL (default http://127.0.0.1:${PORT:-8080})')
    .option('--token <token>', 'bearer token (default $BQWARDEN_TOKEN)')
    .option('--user <email>', 'demo only: mint a dev token for this user')
    .option('--groups <list>', 'demo only: groups for the minted token (comma-separated, repeatable)', groupList, [])
    .option('--json', 'print the API response as JSON');

  const run = (fn: (g: GlobalOpts) => Promise<void>) => async () => {
    try {
      await fn(cmd.opts<GlobalOpts>());
    } catch (err) {
      io.err(`bqwarden approvals: ${(err as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      io.close?.();
    }
  };

  cmd
    .command('list')
    .description('pending requests you may see, then recent closed ones')
    .action(
      run(async (g) => {
        const res = await call<{ approvals: ApprovalView[] }>(io, g, 'GET', '/approvals');
        if (g.json) return io.out(`${JSON.stringify(res, null, 2)}\n`);
        io.out(res.approvals.length ? `${listing(res.approvals)}\n` : 'no approval requests\n');
      }),
    );

  cmd
    .command('show <id>')
    .description('one request, with the exact statement')
    .action((id: string) =>
      run(async (g) => {
        const res = await call<{ approval: ApprovalDetailView }>(io, g, 'GET', `/approvals/${encodeURIComponent(id)}`);
        io.out(g.json ? `${JSON.stringify(res, null, 2)}\n` : `${details(res.approval, commandPrefix(g, io.env), tokenNote(g))}\n`);
      })(),
    );

  for (const action of ['approve', 'reject'] as const) {
    cmd
      .command(`${action} <id>`)
      .description(
        action === 'approve'
          ? 'approve a request (you must not be its requester); shows it and asks before deciding'
          : 'reject (or, as its requester, withdraw) a request; shows it and asks before deciding',
      )
      .option('--reason <text>', 'why; recorded in the audit log (asked for when omitted at a terminal)')
      .option('--yes', 'decide without asking (scripts; required when not at a terminal)')
      .action((id: string, o: { reason?: string; yes?: boolean }) =>
        run(async (g) => {
          // A decision is never taken by accident: a script must say --yes, a person says yes.
          if (!o.yes && !io.interactive) throw new CliError(`${action} needs a confirmation: run it at a terminal to be asked, or pass --yes (and --reason) to decide without asking`);
          if (o.yes && !o.reason?.trim()) throw new CliError(`--reason is required with --yes (it is recorded in the audit log)`);
          // Bind the decision to the statement this reviewer was shown.
          const shown = await call<{ approval: ApprovalDetailView }>(io, g, 'GET', `/approvals/${encodeURIComponent(id)}`);
          io.err(`${details(shown.approval, commandPrefix(g, io.env), tokenNote(g))}\n\n`);
          let reason = o.reason?.trim() ?? '';
          if (!o.yes) {
            if (!reason) reason = (await io.ask(`Reason for ${action === 'approve' ? 'approving' : 'rejecting'} ${id} (recorded in the audit log): `)).trim();
            if (!reason) throw new CliError('no reason given; nothing was decided');
            const answer = (
              await io.ask(
                `${action === 'approve' ? 'Approve' : 'Reject'} ${id} (${shown.approval.statement_kinds.join(', ').toUpperCase()} on ${shown.approval.tables.join(', ') || '(no table)'}, sha256 ${shown.approval.sql_sha256.slice(0, 12)}…)? Type yes to confirm: `,
              )
            )
              .trim()
              .toLowerCase();
            if (answer !== 'yes' && answer !== 'y') {
              io.err(`not ${action === 'approve' ? 'approved' : 'rejected'}: nothing was decided\n`);
              process.exitCode = 1;
              return;
            }
          }
          const res = await call<{ approval: ApprovalView }>(io, g, 'POST', `/approvals/${encodeURIComponent(id)}/${action}`, { reason, sql_sha256: shown.approval.sql_sha256 });
          io.out(g.json ? `${JSON.stringify(res, null, 2)}\n` : `${action === 'approve' ? 'approved' : 'rejected'}: ${line(res.approval)}\n`);
        })(),
      );
  }
}

/** The printed commands never carry a token; say when the reader must add theirs. */
function tokenNote(g: GlobalOpts): string {
  return g.token ? ' (add your --token)' : '';
}

// One reader for the whole command: answers typed (or pasted) ahead of their question stay buffered.
let rl: import('node:readline/promises').Interface | null = null;
function terminal(): import('node:readline/promises').Interface {
  rl ??= createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return rl;
}

export function register(program: Command): void {
  registerWith(program, {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    env: process.env,
    fetch: (...a) => fetch(...a),
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    ask: (question) => terminal().question(question),
    close: () => {
      rl?.close();
      rl = null;
    },
  });
}
