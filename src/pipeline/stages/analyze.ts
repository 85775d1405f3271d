// Stage: the SQL a tool carries, analysed against the catalog (which learns the tables the
// statement names first), and the request as audit may keep it (literals redacted, client text
// scanned).
import { refuse, type Stage } from '../call.js';
import { analyzeAgainstCatalog } from '../../sql/analyze.js';

export const analyze: Stage = {
  name: 'analyze',
  async run(kit, call) {
    const { policy, roles, tool, args, ev } = call;
    call.shape = policy.toolShape(tool);
    if (kit.deps.upstreamPerTool && call.shape) ev.upstream = call.shape.upstream;
    const sqlArgument = call.shape?.sqlArgument;
    if (sqlArgument) {
      const raw = args[sqlArgument];
      if (typeof raw !== 'string' || raw.trim() === '') {
        const msg = `tool ${tool} needs its SQL in the "${sqlArgument}" argument; none was given (rule tool-shape). Send the statement as arguments.${sqlArgument}.`;
        return refuse(kit, call, { message: msg, rule: 'tool-shape', code: 'missing_sql' });
      }
      // Where the statement runs is the call's to say (the managed endpoint's projectId, a dry
      // run), read by the upstream's kind: the analysis resolves names where the engine will.
      const where = policy.callOptions(tool, args);
      if (!where) {
        const msg = `tool ${tool} carries SQL but policy names no dialect for it; denied (rule tool-shape). Ask the gateway's operators to give its upstream a dialect in policy.`;
        return refuse(kit, call, { message: msg, rule: 'tool-shape', code: 'no_dialect' });
      }
      if (!where.ok) {
        return refuse(kit, call, { message: where.message, rule: where.ruleId, code: 'policy_denied' });
      }
      const opts = where.options;
      // The upstream runs the statement where it was analysed: arguments the kind pins (a
      // projectId the call left out) are part of the call from here on: forwarded, audited, bound.
      if (where.pinned) call.args = { ...args, ...where.pinned };
      call.sql = raw;
      // Only when the statement names tables the catalog had to learn is the SQL analysed again
      // (the parse is the expensive part).
      const { analysis, catalog } = await analyzeAgainstCatalog(raw, opts, kit.deps.catalog, kit.deps.sql.analyze);
      call.analysis = analysis;
      call.catalog = catalog;
      Object.assign(ev, kit.statementFields(raw, analysis, policy, roles, opts.dialect));
    }
    const storedArgs = kit.clean(call.sql !== null && sqlArgument ? { ...call.args, [sqlArgument]: null } : call.args);
    if (call.sql !== null && sqlArgument) storedArgs[sqlArgument] = ev.sql_text;
    ev.request_json = kit.payload({ name: tool, arguments: storedArgs, ...(call.params._meta ? { _meta: kit.clean(call.params._meta) } : {}) });
    const justification = typeof args.justification === 'string' ? args.justification : typeof call.meta?.justification === 'string' ? String(call.meta.justification) : null;
    ev.justification = kit.clean(justification);
  },
};
