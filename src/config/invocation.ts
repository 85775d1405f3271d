// How to run this bqwarden from any folder, as the product prints it in hold messages, the
// demo banner and `approvals show`. `npx bqwarden` is never printed: outside the checkout npx
// asks the npm registry for a package of that name, which we do not publish (anyone could).
// So: `bqwarden` when the one on PATH is this checkout's (npm link / npm install -g .), else
// node with this checkout's bin script by absolute path; plus BQWARDEN_DATA when the data
// directory is not the checkout's data/ (a command pasted elsewhere would read another one).
import { realpathSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { binScript, packageRoot } from './paths.js';

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function real(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** The `bqwarden` the shell would run, resolved to its real file; null when none is on PATH. */
function bqwardenOnPath(env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'bqwarden');
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    return real(candidate);
  }
  return null;
}

export interface InvocationOptions {
  /** The data directory the printed command must use (the gateway's). */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** The command prefix that runs this bqwarden from any folder, e.g. `bqwarden` or `node /srv/bqwarden/bin/bqwarden.js`. */
export function cliCommand(opts: InvocationOptions = {}): string {
  const env = opts.env ?? process.env;
  const bin = binScript();
  let base = 'bqwarden';
  if (bin) {
    const linked = bqwardenOnPath(env);
    base = linked !== null && linked === real(bin) ? 'bqwarden' : `node ${shellWord(bin)}`;
  }
  const data = opts.dataDir ? resolve(opts.dataDir) : null;
  const defaultData = join(packageRoot(), 'data');
  return data && data !== defaultData && real(data) !== real(defaultData) ? `BQWARDEN_DATA=${shellWord(data)} ${base}` : base;
}
