// Reading the arguments a call carries about where it runs. Anything the upstream would read
// differently from us (a project id with a quote, a dry-run flag as the string "false") is
// refused rather than guessed: the analysis must describe the statement the engine runs.
import type { CallTargetResult, UpstreamDefaults } from './types.js';

/** BigQuery project ids (6–30 chars), optionally domain-scoped (example.com:project). */
const PROJECT = /^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const DATASET = /^[A-Za-z0-9_]{1,1024}$/;
const LOCATION = /^[A-Za-z][A-Za-z0-9-]{0,40}$/;

type Read<T> = { ok: true; value: T } | { ok: false; message: string };

function str(tool: string, args: Record<string, unknown>, name: string, re: RegExp, what: string): Read<string | null> {
  const v = args[name];
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'string' || !re.test(v))
    return { ok: false, message: `tool ${tool}: argument ${name} must be a ${what}, got ${JSON.stringify(v).slice(0, 80)}; denied (rule tool-arguments). Send a valid ${name} or leave it out.` };
  return { ok: true, value: v };
}

function flag(tool: string, args: Record<string, unknown>, name: string): Read<boolean> {
  const v = args[name];
  if (v === undefined || v === null) return { ok: true, value: false };
  if (typeof v !== 'boolean') return { ok: false, message: `tool ${tool}: argument ${name} must be true or false, got ${JSON.stringify(v).slice(0, 40)}; denied (rule tool-arguments).` };
  return { ok: true, value: v };
}

/** The names of a call's target arguments, per kind (absent: the kind has no such argument). */
export interface TargetArguments {
  project?: string;
  dataset?: string;
  location?: string;
  dryRun?: string;
}

export function readTarget(tool: string, args: Record<string, unknown>, names: TargetArguments, d: UpstreamDefaults): CallTargetResult {
  const project = names.project ? str(tool, args, names.project, PROJECT, 'BigQuery project id') : { ok: true as const, value: null };
  if (!project.ok) return project;
  const dataset = names.dataset ? str(tool, args, names.dataset, DATASET, 'BigQuery dataset id') : { ok: true as const, value: null };
  if (!dataset.ok) return dataset;
  const location = names.location ? str(tool, args, names.location, LOCATION, 'BigQuery location') : { ok: true as const, value: null };
  if (!location.ok) return location;
  const dryRun = names.dryRun ? flag(tool, args, names.dryRun) : { ok: true as const, value: false };
  if (!dryRun.ok) return dryRun;
  return {
    ok: true,
    target: { project: project.value ?? d.defaultProject, dataset: dataset.value ?? d.defaultDataset, location: location.value, dryRun: dryRun.value },
  };
}

/** The first string argument among `names`, for metadata tools' targets. */
export function stringArg(args: Record<string, unknown>, ...names: string[]): string | null {
  for (const n of names) if (typeof args[n] === 'string' && args[n] !== '') return args[n] as string;
  return null;
}
