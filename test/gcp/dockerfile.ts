// Reading a Dockerfile without Docker: instructions (continuations joined, comments dropped),
// stages, and the security properties the image must keep. Shared by the Dockerfile lint and
// the image layout test.

export interface Instr {
  op: string;
  args: string;
}

export function instructions(text: string): Instr[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`Dockerfile instruction without arguments: ${l}`);
      // Both groups are mandatory in the pattern.
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

export interface Stage {
  base: string;
  name: string | null;
  ins: Instr[];
}

export function stages(ins: Instr[]): Stage[] {
  const out: Stage[] = [];
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args.trim())!;
      out.push({ base: m[1]!, name: m[2] ?? null, ins: [] }); // the base group is mandatory
    }
    out.at(-1)?.ins.push(i);
  }
  return out;
}

export interface Copy {
  from: string | null;
  sources: string[];
  dest: string;
}

export function copiesOf(stage: Stage): Copy[] {
  return stage.ins
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const parts = i.args.split(/\s+/);
      const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length) ?? null;
      const paths = parts.filter((p) => !p.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });
}

/** ENV of a stage as key/value pairs (KEY=value forms). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.ins.filter((x) => x.op === 'ENV')) for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!; // both groups mandatory
  return env;
}

export const NODE_LTS_MAJOR = 24;

export function problems(text: string): string[] {
  const p: string[] = [];
  const ins = instructions(text);
  const st = stages(ins);
  if (st.length < 2) p.push('not multi-stage');
  const final = st.at(-1);
  const base = final?.base ?? '';
  const major = Number(/^node:(\d+)/.exec(base)?.[1] ?? NaN);
  if (major !== NODE_LTS_MAJOR) p.push(`final stage is not Node ${NODE_LTS_MAJOR} LTS (${base})`);
  const finalIns = final?.ins ?? [];
  const user = finalIns.filter((i) => i.op === 'USER').at(-1);
  if (!user || /^(root|0)(:|$)/.test(user.args)) p.push('final stage runs as root');
  for (const i of ins) {
    if ((i.op === 'ENV' || i.op === 'ARG') && /(SECRET|PASSWORD|TOKEN|PRIVATE|API_KEY|CREDENTIAL)/i.test(i.args)) p.push(`secret-looking ${i.op}: ${i.args}`);
    if ((i.op === 'COPY' || i.op === 'ADD') && /(\.pem|\.key|\.env|credentials|service-account)/i.test(i.args)) p.push(`copies secret material: ${i.args}`);
    if (i.op === 'ADD' && /https?:\/\//.test(i.args)) p.push('ADD from URL');
  }
  const env = final ? envOf(final) : {};
  if (env.PORT !== '8080') p.push('PORT default not set');
  if (final) {
    const copies = copiesOf(final);
    if (!copies.some((c) => c.sources.some((s) => /(^|\/)dist$/.test(s)))) p.push('does not copy the compiled dist/');
    if (copies.some((c) => c.from === null && c.sources.some((s) => /^(\.\/)?(src|test|bench)(\/|$)/.test(s)))) p.push('copies TypeScript sources or tests into the runtime image');
    if (!copies.some((c) => c.from === null && c.sources.some((s) => /^(\.\/)?rules\/?$/.test(s)))) p.push('does not copy rules/ (the gateway cannot start without a policy)');
  }
  const cmd = finalIns.filter((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT').at(-1);
  if (!cmd || !/bin\/bqwarden\.js/.test(cmd.args) || !/serve/.test(cmd.args)) p.push('CMD is not `bqwarden serve`');
  if (cmd && !cmd.args.trim().startsWith('[')) p.push('CMD not in exec form (signals would not reach node)');
  return p;
}
