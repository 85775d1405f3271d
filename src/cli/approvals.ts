// `bqwarden approvals list | show <id> | approve <id> --reason … | reject <id> --reason …`:
// a client of the gateway's approvals API, authenticated like every other door (a bearer token;
// in the demo one can be minted from the dev issuer with --user/--groups).
import type { Command } from 'commander';
import { dataDir } from '../config/paths.js';
import type { ApprovalDetailView, ApprovalView } from '../approvals/views.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
}

interface GlobalOpts {
  url?: string;
  token?: string;
  user?: string;
  groups: string[];
  json?: boolean;
}

class CliError extends Error {}

function groupList(raw: string, previous: string[] = []): string[] {
  return [...previous, ...raw.split(',').map((g) => g.trim()).filter(Boolean)];
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
  throw new CliError('no credentials: pass --token, set BQWARDEN_TOKEN, or (demo) --user <email> --groups approver');
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

function line(a: ApprovalView): string {
  const what = `${(a.statement_kinds.length ? a.statement_kinds : a.statement_types).join(',').toUpperCase()} ${a.tables.join(',')}`;
  return [a.id, a.status.padEnd(8), `${a.approvals.length}/${a.approvals_required}`, a.requester, what, `expires ${a.expires_at}`].join('  ');
}

function details(a: ApprovalDetailView): string {
  const rows = [
    `Request        ${a.id}  [${a.status}]`,
    `Requester      ${a.requester} at ${a.requested_at}`,
    `Tool           ${a.tool}`,
    `Statement      ${a.statement_types.join(', ')} (${a.statement_kinds.join(', ')})`,
    `Tables         ${a.tables.join(', ') || '(none)'}`,
    `Justification  ${a.justification ?? '(none given)'}`,
    `Why            ${a.policy_reason ?? ''} (rule ${a.rule_ids.join(', ')})`,
    `Needs          ${a.approvals_required} approval(s) from ${a.approver_roles.join(' or ')}`,
    `Approvals      ${a.approvals.map((v) => `${v.by} at ${v.at}${v.reason ? ` (${v.reason})` : ''}`).join('; ') || 'none yet'}`,
    ...(a.rejection ? [`Rejected       by ${a.rejection.by} at ${a.rejection.at}: ${a.rejection.reason ?? ''}`] : []),
    ...(a.execution ? [`Executed       ${a.execution.at} (${a.execution.outcome})`] : []),
    `Expires        ${a.expires_at}`,
    `SQL sha256     ${a.sql_sha256}`,
    `Review page    ${a.review_url}`,
    '',
    a.exact_sql !== null ? 'Exact statement:' : 'Statement (audit form, literals redacted; exact text not held by this gateway):',
    a.exact_sql ?? a.sql_text ?? '',
    '',
    a.can_approve ? `You may approve: bqwarden approvals approve ${a.id} --reason "…"` : `You cannot approve: ${a.why_not ?? 'not available'}`,
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
    }
  };

  cmd
    .command('list')
    .description('pending requests you may see, then recent closed ones')
    .action(
      run(async (g) => {
        const res = await call<{ approvals: ApprovalView[] }>(io, g, 'GET', '/approvals');
        if (g.json) return io.out(`${JSON.stringify(res, null, 2)}\n`);
        io.out(res.approvals.length ? `${res.approvals.map(line).join('\n')}\n` : 'no approval requests\n');
      }),
    );

  cmd
    .command('show <id>')
    .description('one request, with the exact statement')
    .action((id: string) =>
      run(async (g) => {
        const res = await call<{ approval: ApprovalDetailView }>(io, g, 'GET', `/approvals/${encodeURIComponent(id)}`);
        io.out(g.json ? `${JSON.stringify(res, null, 2)}\n` : `${details(res.approval)}\n`);
      })(),
    );

  for (const action of ['approve', 'reject'] as const) {
    cmd
      .command(`${action} <id>`)
      .description(action === 'approve' ? 'approve a request (you must not be its requester)' : 'reject (or, as its requester, withdraw) a request')
      .requiredOption('--reason <text>', 'why; recorded in the audit log')
      .action((id: string, o: { reason: string }) =>
        run(async (g) => {
          // Bind the decision to the statement this reviewer was shown.
          const shown = await call<{ approval: ApprovalDetailView }>(io, g, 'GET', `/approvals/${encodeURIComponent(id)}`);
          io.err(`${details(shown.approval)}\n\n`);
          const res = await call<{ approval: ApprovalView }>(io, g, 'POST', `/approvals/${encodeURIComponent(id)}/${action}`, { reason: o.reason, sql_sha256: shown.approval.sql_sha256 });
          io.out(g.json ? `${JSON.stringify(res, null, 2)}\n` : `${action === 'approve' ? 'approved' : 'rejected'}: ${line(res.approval)}\n`);
        })(),
      );
  }
}

export function register(program: Command): void {
  registerWith(program, {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    env: process.env,
    fetch: (...a) => fetch(...a),
  });
}
