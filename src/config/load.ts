// Gateway configuration: an optional YAML file, then environment overrides, validated by zod.
// Errors name the exact key (e.g. "server.port: expected number") so an operator can fix it.
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { BqwardenError } from '../common/errors.js';

class ConfigError extends BqwardenError {
  constructor(message: string) {
    super('config_invalid', message);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

function setPath(target: Json, path: string[], value: unknown): void {
  const last = path.at(-1);
  if (last === undefined) throw new ConfigError('a configuration override names no key');
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[last] = value;
}

function parseEnvValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * `BQWARDEN__SERVER__PORT=9000` sets server.port (double underscore = one level; camelCase keys
 * are written as-is, e.g. BQWARDEN__UPSTREAM__TIMEOUTMS is not matched — use exact key case:
 * BQWARDEN__upstream__timeoutMs). Values are JSON when they parse as JSON, strings otherwise.
 */
function envOverrides(env: NodeJS.ProcessEnv, aliases: Record<string, string[]>): Json {
  const out: Json = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    if (name.startsWith('BQWARDEN__')) {
      const path = name.slice('BQWARDEN__'.length).split('__').filter(Boolean);
      if (path.length > 0) setPath(out, path, parseEnvValue(raw));
    } else if (Object.hasOwn(aliases, name)) {
      // Own keys only: an environment variable named toString or __proto__ is not an alias.
      const path = aliases[name];
      if (path) setPath(out, path, parseEnvValue(raw));
    }
  }
  return out;
}

export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Json, v as Json) : v;
  }
  return out;
}

function formatZodError(err: z.ZodError, source: string): string {
  const lines = err.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  return `invalid configuration (${source}):\n${lines.join('\n')}`;
}

export function loadConfigWith<S extends z.ZodTypeAny>(schema: S, opts: { file?: string | null; env?: NodeJS.ProcessEnv; overrides?: Json; aliases?: Record<string, string[]> } = {}): z.infer<S> {
  const env = opts.env ?? process.env;
  let fromFile: Json = {};
  const file = opts.file ?? env.BQWARDEN_CONFIG ?? null;
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
    try {
      fromFile = (parseYaml(readFileSync(file, 'utf8')) as Json) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
    }
  }
  const merged = deepMerge(deepMerge(fromFile, opts.overrides ?? {}), envOverrides(env, opts.aliases ?? {}));
  const result = schema.safeParse(merged);
  if (!result.success) throw new ConfigError(formatZodError(result.error, file ?? 'defaults + environment'));
  return result.data;
}
