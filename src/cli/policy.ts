// `bqwarden policy check | explain | test`: validate rules/, explain one decision, run the
// policy test cases in rules/tests/.
import type { Command } from 'commander';
import { join } from 'node:path';
import type { Policy } from '../policy/engine.js';
import type { CaseOutcome } from '../policy/cases.js';
import type { Dialect } from '../sql/types.js';
import { rulesDir } from '../config/paths.js';

const DEFAULT_DIR = rulesDir();

async function load(dir: string): Promise<Policy | null> {
  // Loaded on use: `bqwarden --help` must not pay for the policy engine and the SQL parser.
  const [{ loadPolicy }, { PolicyLoadError }] = await Promise.all([import('../policy/engine.js'), import('../policy/errors.js')]);
  try {
    return await loadPolicy(dir);
  } catch (err) {
    process.stderr.write(`${err instanceof PolicyLoadError ? err.message : `cannot load policy from ${dir}: ${(err as Error).message}`}\n`);
    process.exitCode = 1;
    return null;
  }
}

function list(v: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

function where(policy: Policy, id: string): string {
  const o = policy.ruleOrigin(id);
  return o ? `${o.file}:${o.line ?? '?'}` : 'built-in';
}

function formatExplanation(policy: Policy, o: CaseOutcome & { upstream?: string | null }): string {
  const d = o.decision;
  const lines = [`policy version: ${policy.version}`, `roles:          ${o.roles.length ? o.roles.join(', ') : '(none)'}`];
  if (o.analysis) {
    lines.push(`dialect:        ${o.analysis.dialect}${o.upstream ? ` (upstream ${o.upstream})` : ''}`);
    const classes = [...new Set(o.analysis.statements.map((s) => `${s.class}/${s.kind}`))];
    const tables = [...new Set(o.analysis.statements.flatMap((s) => [...s.tablesRead, ...s.tablesWritten].map((t) => t.fq)))];
    lines.push(`statements:     ${classes.join(', ') || '(none)'}${o.analysis.ok ? '' : ' (did not parse)'}`);
    if (tables.length) lines.push(`tables:         ${tables.join(', ')}`);
    if (o.analysis.opaque.length) lines.push(`opaque:         ${o.analysis.opaque.map((f) => `${f.kind} (${f.detail})`).join('; ')}`);
  }
  lines.push(`decision:       ${d.action.toUpperCase()}${d.privileged ? ' (privileged)' : ''}`);
  lines.push(`message:        ${d.message}`);
  lines.push('rules:');
  for (const id of d.ruleIds) lines.push(`  - ${id}  (${where(policy, id)})`);
  if (d.approval) lines.push(`approval:       ${d.approval.required} × [${d.approval.approverRoles.join(', ')}], expires after ${d.approval.expiresInSeconds}s (rule ${d.approval.ruleId})`);
  if (d.maskPlan) {
    if (d.maskPlan.columns.length) {
      lines.push('masked columns:');
      for (const c of d.maskPlan.columns) lines.push(`  - ${c.outputName}: ${c.method} (${c.classification} from ${c.sources.join(', ') || '?'}; rule ${c.ruleId})`);
    }
    if (d.maskPlan.fallback.length) lines.push(`fallback:       ${d.maskPlan.fallback.map((f) => `${f.classification}→${f.method}`).join(', ')}`);
    lines.push(`detectors:      ${d.maskPlan.detectors ? 'on' : 'off'}`);
  }
  if (d.maskPlan?.derived?.length) {
    lines.push('computed from masked values (returned as computed):');
    for (const x of d.maskPlan.derived) lines.push(`  - ${x.outputName}: from ${x.from.map((f) => `${f.source} (${f.method})`).join(', ')}`);
  }
  if (d.engine) {
    lines.push('masked in the engine (every clause sees these values masked):');
    for (const c of d.engine.columns.values())
      lines.push(
        `  - ${c.key}: ${c.method}${c.form === 'handle' ? ' (row handle, resolved by the gateway after the query)' : c.form === 'narrow' ? ' (cannot be computed in the engine: direct output only)' : ''}`,
      );
    for (const k of d.engine.omitted) lines.push(`  - ${k}: not readable (left out of the projection)`);
    lines.push('executed SQL (what the gateway forwards):');
    lines.push(...d.engine.sql.split('\n').map((l) => `  ${l}`));
  }
  if (o.visibleTools) lines.push(`visible tools:  ${o.visibleTools.join(', ') || '(none)'}`);
  return lines.join('\n');
}

/** The decision as plain JSON (the engine plan holds Maps and Sets). */
function decisionJson(d: CaseOutcome['decision']): unknown {
  if (!d.engine) return d;
  const { engine, ...rest } = d;
  return { ...rest, engine: { sql: engine.sql, tables: engine.tables, columns: [...engine.columns.values()], omitted: [...engine.omitted], handles: engine.handles } };
}

export function register(program: Command): void {
  const policy = program.command('policy').description('Policy as code: validate, explain and test the rules/ directory');

  policy
    .command('check')
    .description('Validate the policy files and print the policy version (sha256)')
    .option('--dir <dir>', 'policy directory', DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      const p = await load(o.dir);
      if (!p) return;
      const s = p.summary();
      process.stdout.write(
        [
          `policy OK: ${o.dir}`,
          `version:         ${p.version}`,
          `files:           ${p.files.join(', ')}`,
          `roles:           ${s.roles.join(', ')}`,
          `tools:           ${s.tools.join(', ')}`,
          `classifications: ${s.classifications.join(', ')}`,
          `rules:           ${s.rules}`,
        ].join('\n') + '\n',
      );
    });

  policy
    .command('explain')
    .description('Show the decision for one call and why: roles, matched rules, masking, message')
    .option('--dir <dir>', 'policy directory', DEFAULT_DIR)
    .option('--user <email>', 'caller email (and subject)', 'someone@bank.example')
    .option('--subject <sub>', 'caller subject when it differs from the email')
    .option('--groups <groups>', 'IdP groups, comma separated (repeatable)', list, [] as string[])
    .option('--tool <name>', 'upstream tool', 'execute_sql')
    .option('--sql <sql>', 'SQL for a SQL tool')
    .option('--args <json>', 'tool arguments as JSON (non-SQL tools)')
    .option('--dialect <dialect>', 'analyse the SQL as bigquery | sqlite | postgresql (default: the dialect of the upstream that serves the tool)')
    .option('--upstream <id>', 'the upstream (policy upstreams[].id) whose dialect and default project/dataset apply (default: the one that serves the tool)')
    .option('--method <method>', 'explain an MCP method (e.g. resources/list, tools/list) instead of a tool call')
    .option('--capability <name>', 'explain a non-MCP capability (console, approve …)')
    .option('--json', 'print the decision as JSON')
    .action(
      async (o: {
        dir: string;
        user: string;
        subject?: string;
        groups: string[];
        tool: string;
        sql?: string;
        args?: string;
        method?: string;
        capability?: string;
        json?: boolean;
        dialect?: string;
        upstream?: string;
      }) => {
        if (o.dialect && !['bigquery', 'sqlite', 'postgresql'].includes(o.dialect)) {
          process.stderr.write(`unknown dialect ${o.dialect}: use bigquery, sqlite or postgresql\n`);
          process.exitCode = 2;
          return;
        }
        const p = await load(o.dir);
        if (!p) return;
        const ups = p.upstreams();
        const upstream = o.upstream ? ups.find((u) => u.id === o.upstream) : ups.find((u) => u.tools.includes(o.tool));
        if (o.upstream && !upstream) {
          process.stderr.write(`no upstream ${o.upstream} in the policy; upstreams: ${ups.map((u) => u.id).join(', ') || '(none)'}\n`);
          process.exitCode = 2;
          return;
        }
        if (o.upstream && upstream && !upstream.tools.includes(o.tool)) {
          process.stderr.write(`upstream ${upstream.id} has no tool ${o.tool}; its tools: ${upstream.tools.join(', ')}\n`);
          process.exitCode = 2;
          return;
        }
        let args: Record<string, unknown> | undefined;
        if (o.args) {
          try {
            args = JSON.parse(o.args) as Record<string, unknown>;
          } catch (err) {
            process.stderr.write(`--args is not valid JSON: ${(err as Error).message}\n`);
            process.exitCode = 2;
            return;
          }
        }
        if (!o.method && !o.capability && o.sql === undefined && !args) {
          process.stderr.write('give --sql (or --args, --method, --capability)\n');
          process.exitCode = 2;
          return;
        }
        const { evaluateCase, loadAnalyzer } = await import('../policy/cases.js');
        const base = await loadAnalyzer();
        // The SQL is read the way its upstream reads this call (the project an --args projectId
        // names, else the upstream's defaults), or as --upstream / --dialect say.
        const analyze: typeof base = base
          ? (sql, opts) =>
              base(sql, {
                ...opts,
                ...(o.upstream && upstream ? { defaultProject: upstream.defaultProject, defaultDataset: upstream.defaultDataset, dialect: upstream.dialect } : {}),
                ...(o.dialect ? { dialect: o.dialect as Dialect } : {}),
              })
          : null;
        let out: CaseOutcome;
        try {
          out = evaluateCase(p, { user: o.user, subject: o.subject, groups: o.groups, tool: o.tool, sql: o.sql, args, method: o.method, capability: o.capability }, analyze);
        } catch (err) {
          process.stderr.write(`${(err as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
        const dialect = out.analysis?.dialect ?? null;
        process.stdout.write(
          o.json
            ? JSON.stringify({ roles: out.roles, dialect, upstream: upstream?.id ?? null, decision: decisionJson(out.decision), visibleTools: out.visibleTools, policyVersion: p.version }, null, 2) +
                '\n'
            : formatExplanation(p, { ...out, upstream: upstream?.id ?? null }) + '\n',
        );
      },
    );

  policy
    .command('test')
    .description('Run the policy test cases (rules/tests/*.yaml); exits non-zero on any failure')
    .option('--dir <dir>', 'policy directory', DEFAULT_DIR)
    .option('--cases <dir>', 'test case directory (default: <dir>/tests)')
    .option('--filter <text>', 'only cases whose name contains this')
    .option('-v, --verbose', 'print every case, not only failures')
    .action(async (o: { dir: string; cases?: string; filter?: string; verbose?: boolean }) => {
      const p = await load(o.dir);
      if (!p) return;
      const { checkCase, evaluateCase, loadAnalyzer, loadCases } = await import('../policy/cases.js');
      let cases;
      try {
        cases = await loadCases(o.cases ?? join(o.dir, 'tests'));
      } catch (err) {
        process.stderr.write(`cannot load test cases: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (o.filter) cases = cases.filter((c) => c.name.includes(o.filter!));
      if (cases.length === 0) {
        process.stderr.write('no policy test cases found\n');
        process.exitCode = 1;
        return;
      }
      const analyze = await loadAnalyzer();
      let failed = 0;
      for (const c of cases) {
        let fails: string[];
        let out: CaseOutcome | null = null;
        try {
          out = evaluateCase(p, c, analyze);
          fails = checkCase(c, out);
        } catch (err) {
          fails = [(err as Error).message];
        }
        if (fails.length) {
          failed++;
          process.stdout.write(
            `FAIL ${c.file}:${c.line ?? '?'} ${c.name}\n${fails.map((f) => `     ${f}\n`).join('')}${out ? `     decision: ${out.decision.action} [${out.decision.ruleIds.join(', ')}] ${out.decision.message}\n` : ''}`,
          );
        } else if (o.verbose) process.stdout.write(`ok   ${c.name}\n`);
      }
      process.stdout.write(`${cases.length - failed}/${cases.length} policy cases passed (policy ${p.version.slice(0, 12)})\n`);
      if (failed) process.exitCode = 1;
    });
}
