// `bqwarden token`: mint a short-lived demo token from the dev issuer. Prints only the token on
// stdout so `TOKEN=$(bqwarden token --user alice@bank.example --groups analyst)` works.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { dataDir } from '../config/paths.js';
import { ACTOR_TYPES_ASSIGNABLE, type AssignableActorType } from '../identity/config.js';
import { DEFAULT_DEV_TTL_SECONDS, MAX_DEV_TTL_SECONDS } from '../identity/dev-limits.js';
import { groupList } from './options.js';

function positiveInt(max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0 || n > max) throw new InvalidArgumentError(`expected a whole number between 1 and ${max}`);
    return n;
  };
}

function actorType(raw: string): AssignableActorType {
  if (!(ACTOR_TYPES_ASSIGNABLE as readonly string[]).includes(raw)) throw new InvalidArgumentError(`expected one of ${ACTOR_TYPES_ASSIGNABLE.join(', ')}`);
  return raw as AssignableActorType;
}

export function register(program: Command): void {
  program
    .command('token')
    .description('Mint a short-lived token from the demo dev issuer (demo/dev only; refused when NODE_ENV=production)')
    .requiredOption('--user <email>', 'subject and email of the token, e.g. alice@bank.example')
    .option('--groups <list>', 'comma-separated groups (repeatable)', groupList, [])
    .option('--ttl <seconds>', `lifetime in seconds (max ${MAX_DEV_TTL_SECONDS})`, positiveInt(MAX_DEV_TTL_SECONDS), DEFAULT_DEV_TTL_SECONDS)
    .option('--port <port>', 'gateway port (default: $PORT or 8080)', positiveInt(65535))
    .option('--audience <url>', 'token audience (default: http://127.0.0.1:<port>/mcp)')
    .option('--issuer <url>', 'issuer URL (default: http://127.0.0.1:<port>/dev-issuer)')
    .option('--actor-type <type>', `one of ${ACTOR_TYPES_ASSIGNABLE.join(', ')}`, actorType, 'human')
    .option('--name <name>', 'display name (default: the user)')
    .action(async (opts: { user: string; groups: string[]; ttl: number; port?: number; audience?: string; issuer?: string; actorType: AssignableActorType; name?: string }) => {
      const port = opts.port ?? (process.env.PORT ? positiveInt(65535)(process.env.PORT) : 8080);
      const origin = `http://127.0.0.1:${port}`;
      try {
        const { mintDevToken } = await import('../identity/dev-issuer.js');
        const token = await mintDevToken({
          dataDir: dataDir(),
          issuer: opts.issuer ?? `${origin}/dev-issuer`,
          audience: opts.audience ?? `${origin}/mcp`,
          user: opts.user,
          groups: opts.groups,
          ttlSeconds: opts.ttl,
          actorType: opts.actorType,
          name: opts.name,
          mode: 'demo',
        });
        process.stdout.write(`${token}\n`);
      } catch (err) {
        process.stderr.write(`bqwarden token: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
