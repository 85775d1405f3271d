// Stage: BigQuery's dry run as a second opinion on a statement policy let through (allow, mask,
// or held for approval), on the SQL that will actually run (the masked rewrite when there is
// one): its type and tables must agree with our analysis, and the bytes it would process must
// fit the caller's budget (roles[].maxBytesProcessed). Only for upstreams whose policy asks for
// it (upstreams[].dryRun); a dry run that fails denies the call (fail closed).
import { refuse, type Stage } from '../call.js';
import { dryRunDisagreement } from '../dry-run-check.js';
import type { ErrorCode } from '../../common/errors.js';

export const dryRun: Stage = {
  name: 'dry-run',
  async run(kit, call) {
    const runner = kit.deps.dryRun;
    const { analysis, decision, policy } = call;
    if (!analysis || call.sql === null || !decision || decision.action === 'deny') return;
    const where = policy.dryRunFor?.(call.tool, call.args) ?? null;
    if (!where) return;
    const deny = (message: string, rule: string, code: ErrorCode, outcome: 'denied' | 'error' = 'denied') => refuse(kit, call, { message, rule, code, outcome });
    if (!runner)
      return deny(
        `policy asks for a BigQuery dry run of tool ${call.tool}'s statements, but this gateway has no dry-run client configured; denied (rule dry-run, fail closed)`,
        'dry-run',
        'dry_run_unavailable',
      );
    let r;
    try {
      r = await runner.run({ sql: call.executed ?? call.sql, ...where });
    } catch (err) {
      // BigQuery's reason is feedback on the statement (a syntax error, a missing table), so the
      // agent reads it, through the detectors: it must not carry an identity (the gateway's
      // service account) or a value out.
      const reason = kit.clean((err as Error).message.split('\n', 1)[0]?.slice(0, 300) ?? '');
      return deny(`BigQuery's dry run of this statement failed (${reason}), so it is not forwarded (rule dry-run, fail closed)`, 'dry-run', 'dry_run_failed', 'error');
    }
    const differs = dryRunDisagreement(analysis, r);
    if (differs) return deny(`${differs.reason}; denied (rule dry-run)`, 'dry-run', differs.code);
    const budget = policy.byteBudget?.(call.roles) ?? null;
    if (budget !== null && r.totalBytesProcessed > budget) {
      return deny(
        `this statement would process ${r.totalBytesProcessed} bytes (BigQuery dry run), more than the ${budget} bytes your roles (${call.roles.join(', ')}) may process per statement; denied (rule byte-budget). Narrow it: select fewer columns, filter on the partitioning column, or ask for a larger budget.`,
        'byte-budget',
        'over_byte_budget',
      );
    }
  },
};
