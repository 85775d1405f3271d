// Just-in-time approval for statements policy will not run unattended. Wires the event-sourced
// service, the pipeline gate, the webhook notifier and the three doors (API, web page, CLI via
// the API) from one set of dependencies.
import type { FastifyInstance } from 'fastify';
import type { AuditEvent, AuditEventInput } from '../audit/event.js';
import type { ApprovalGate, HeldCall } from '../pipeline/deps.js';
import type { Logger } from '../ops/logger.js';
import type { Dialect } from '../sql/types.js';
import { ApprovalsConfigSchema, claimsDirOf, statementsDirOf, type ApprovalsConfig, type ApprovalsConfigInput } from './config.js';
import { fileClaimStore, memoryClaimStore, type ClaimStore } from './claims.js';
import { ApprovalService } from './service.js';
import { createApprovalGate, type ApprovalPolicyView } from './gate.js';
import { createWebhookNotifier, type Notifier } from './notify.js';
import { registerApprovalApi, type Authenticate } from './routes.js';
import { registerApprovalUi } from './ui.js';
import type { Web } from '../web/index.js';
import { fileStatementStore } from './statements.js';
import { shellWord } from '../config/invocation.js';
import type { ApprovalEventSource, StatementStore } from './types.js';
export { reduceApprovals } from './reduce.js';
export { memoryApprovalSource, storeApprovalSource } from './source.js';
export { fileStatementStore, memoryStatementStore } from './statements.js';
export { ApprovalError } from './service.js';
export type { StatementStore } from './types.js';

export interface ApprovalsDeps {
  audit: { append(input: AuditEventInput): Promise<AuditEvent> };
  source: ApprovalEventSource;
  policy: () => ApprovalPolicyView;
  /** Literal redaction for the audit form of the statement (the pipeline's SqlView.redactLiterals). */
  sql?: { redactLiterals(sql: string, dialect: Dialect): string };
  /** Gateway base URL as people reach it (review links), without a trailing slash. */
  publicUrl: string;
  config: ApprovalsConfig | ApprovalsConfigInput;
  log: Logger;
  /** Defaults to 0600 files under config.statementsDir (default <dataDir>/approvals). */
  statements?: StatementStore;
  /** Create-once claims shared by all instances; default files under config.claims.dir or <dataDir>/approval-claims. */
  claims?: ClaimStore;
  /** This gateway instance, recorded in claims. */
  instance?: string;
  dataDir?: string;
  /** How the printed CLI lines run bqwarden (default `bqwarden`), and in the demo whom they sign in as. */
  cli?: ApprovalsCli;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface Approvals {
  gate: ApprovalGate & { waitSeconds(call: HeldCall): number };
  service: ApprovalService;
  notifier: Notifier;
  /** The create-once claims every instance shares (tool pins use them too). */
  claims: ClaimStore;
  /** Review page and CLI lines for a request, as hold messages print them. */
  urls: { review(id: string): string; cli(id: string, action?: 'show' | 'approve' | 'reject'): string };
  /** Registers the API and the web page; call before app.listen(). */
  routes(app: FastifyInstance, opts: { authenticate: Authenticate; web: Web }): Promise<void>;
  close(): Promise<void>;
}

interface ApprovalsCli {
  /** e.g. `bqwarden`, or `node /srv/bqwarden/bin/bqwarden.js` (config/invocation.ts cliCommand). */
  command: string;
  /** Demo only: the printed lines mint a dev token for this approver, so they work as pasted. */
  demoApprover?: { user: string; groups: string[] } | null;
}

/** The approver the demo's printed commands sign in as (any user holding the approver group would do). */
export const DEMO_APPROVER = { user: 'bob@bank.example', groups: ['approver'] };

/** `<command> approvals [--url …] [--user … --groups …]`: the CLI prefix printed for a gateway at `base`. */
function approvalsCliPrefix(cli: ApprovalsCli, base: string): string {
  // The CLI's default is http://127.0.0.1:$PORT (8080): a pasted line cannot rely on PORT, so
  // anything else is spelled out.
  const url = base === 'http://127.0.0.1:8080' ? '' : ` --url ${shellWord(base)}`;
  const who = cli.demoApprover ? ` --user ${shellWord(cli.demoApprover.user)} --groups ${shellWord(cli.demoApprover.groups.join(','))}` : '';
  return `${cli.command} approvals${url}${who}`;
}

/** Rebuilds approval state from the source before returning, so it is ready to serve. */
export async function createApprovals(deps: ApprovalsDeps): Promise<Approvals> {
  const config = ApprovalsConfigSchema.parse(deps.config);
  const base = deps.publicUrl.replace(/\/+$/, '');
  const cli = deps.cli ?? { command: 'bqwarden', demoApprover: null };
  const prefix = approvalsCliPrefix(cli, base);
  const urls = {
    review: (id: string) => `${base}/approvals/ui/${id}`,
    cli: (id: string, action: 'show' | 'approve' | 'reject' = 'show') => `${prefix} ${action} ${id}`,
    cliNote: cli.demoApprover ? `demo: signs in as ${cli.demoApprover.user}` : 'with BQWARDEN_TOKEN set to your own token',
  };
  const service = new ApprovalService({
    audit: deps.audit,
    source: deps.source,
    statements: deps.statements ?? fileStatementStore(statementsDirOf(config, deps.dataDir)),
    config,
    log: deps.log,
    now: deps.now,
  });
  await service.init();
  const notifier = createWebhookNotifier({ config: config.webhook, reviewUrl: urls.review, audit: deps.audit, log: deps.log, fetch: deps.fetch });
  // Without a data directory (tests, embedding) claims live in this process, like the lock does.
  const claims = deps.claims ?? (deps.dataDir || config.claims.dir ? fileClaimStore(claimsDirOf(config, deps.dataDir)) : memoryClaimStore());
  const gate = createApprovalGate({ service, policy: deps.policy, sql: deps.sql, notifier, config, urls, log: deps.log, claims, instance: deps.instance ?? 'gateway' });

  return {
    gate,
    service,
    notifier,
    claims,
    urls,
    async routes(app, { authenticate, web }) {
      const routeDeps = { service, policy: deps.policy, authenticate, authFailure: web.authFailure, client: web.client, reviewUrl: urls.review };
      await registerApprovalApi(app, routeDeps);
      await registerApprovalUi(app, { ...routeDeps, web, sessionSeconds: config.uiSessionSeconds });
    },
    async close() {
      await notifier.close();
      await service.close();
    },
  };
}
