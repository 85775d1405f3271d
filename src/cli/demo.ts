// `bqwarden demo` (what `npm start` runs) and `bqwarden serve` (production entry point).
import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayHandle } from '../server/app.js';
import type { DemoUpstreams } from '../demo/toolbox.js';

function installSignalHandlers(stop: (signal: string) => Promise<void>, reload?: () => Promise<void>): void {
  let stopping = false;
  const onStop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stop(signal)
      .then(() => process.exit(0))
      .catch((err) => {
        console.error(err);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGTERM', () => onStop('SIGTERM'));
  if (reload) process.on('SIGHUP', () => void reload());
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the embedded demo: MCP Toolbox (--prebuilt sqlite) on a synthetic bank DB behind the gateway')
    .option('--config <file>', 'gateway config file (YAML)')
    .action(async (opts: { config?: string }) => {
      const [{ loadGatewayConfig }, { startGateway }, { startDemoUpstreams }, { writeBankDb }, { createLogger }] = await Promise.all([
        import('../server/config.js'),
        import('../server/app.js'),
        import('../demo/toolbox.js'),
        import('../demo/dataset.js'),
        import('../ops/logger.js'),
      ]);
      const log = createLogger();
      const config = loadGatewayConfig({ file: opts.config, overrides: { mode: 'demo' } });
      mkdirSync(config.dataDir, { recursive: true });
      const db = join(config.dataDir, 'bank.db');
      if (!existsSync(db)) {
        log.info({ db }, 'generating the synthetic bank database (first start)');
        await writeBankDb(db);
      }
      let upstreams: DemoUpstreams | null = null;
      let gateway: GatewayHandle | null = null;
      installSignalHandlers(
        async (signal) => {
          log.info({ signal }, 'stopping');
          await gateway?.close();
          await upstreams?.stop();
        },
        async () => {
          await gateway?.reloadPolicy();
        },
      );
      // Two Toolboxes, each answering only tokens this process signs: a read-only one for every
      // call, a writable one for approved statements only.
      upstreams = await startDemoUpstreams({ database: db, onLog: (line) => log.debug({ toolbox: line }, 'toolbox') });
      log.info({ read: upstreams.reader.url, write: upstreams.writer.url }, 'MCP Toolbox (sqlite) ready: read-only and approved-writes upstreams');
      gateway = await startGateway(loadGatewayConfig({ file: opts.config, overrides: { mode: 'demo', upstream: upstreams.upstream, identity: { devIssuer: { enabled: true } } } }), {
        log,
        upstreamCredential: upstreams.credentials.upstream,
        writerCredential: upstreams.credentials.writer,
      });
      const { cliCommand } = await import('../config/invocation.js');
      printWelcome(gateway, config.dataDir, cliCommand({ dataDir: config.dataDir }));
    });

  program
    .command('serve')
    .description('Run the gateway in front of a configured upstream MCP server (production)')
    .option('--config <file>', 'gateway config file (YAML)')
    .action(async (opts: { config?: string }) => {
      const [{ loadGatewayConfig, publicBaseUrl }, { startGateway }, { createLogger }] = await Promise.all([import('../server/config.js'), import('../server/app.js'), import('../ops/logger.js')]);
      const log = createLogger();
      const config = loadGatewayConfig({ file: opts.config });
      let gateway: GatewayHandle | null = null;
      installSignalHandlers(
        async () => {
          await gateway?.close();
        },
        async () => {
          await gateway?.reloadPolicy();
        },
      );
      gateway = await startGateway(config, { log });
      log.info({ url: `${publicBaseUrl(config, gateway.port)}/mcp` }, 'bqwarden gateway ready');
    });
}

function printWelcome(g: GatewayHandle, data: string, cli: string): void {
  const mcp = `${g.url}/mcp`;
  // Every command printed here works pasted into a shell in any folder (test/e2e/printed-commands).
  const port = g.port !== 8080 ? ` --port ${g.port}` : '';
  const lines = [
    '',
    `bqwarden demo is running: MCP endpoint ${mcp}`,
    `  data directory: ${data} (database, keys, audit log)`,
    '',
    'Connect an MCP client with nothing pasted: it signs in through OAuth (a browser opens on the demo',
    'sign-in page, where you pick a user and groups = roles: analyst, pii-reader, engineer, approver, examiner, ci).',
    'Claude Desktop / any stdio-only MCP client, through mcp-remote (claude_desktop_config.json):',
    JSON.stringify({ mcpServers: { bqwarden: { command: 'npx', args: ['-y', 'mcp-remote', mcp] } } }, null, 2),
    '',
    'Scripts and CI identities: mint a short-lived token instead:',
    `  TOKEN=$(${cli} token --user alice@bank.example --groups analyst${port})`,
    '',
    `Approvals: ${g.url}/approvals/ui    Examiner console: ${g.url}/console    (same sign-in page)`,
    'From a terminal, in any folder:',
    `  ${cli} approvals${g.url !== 'http://127.0.0.1:8080' ? ` --url ${g.url}` : ''} --user bob@bank.example --groups approver list`,
    `  ${cli} verify`,
    `  ${cli} replay`,
    `  ${cli} policy explain --user alice@bank.example --groups analyst --sql "SELECT ssn FROM customers"`,
    'Ctrl-C stops the gateway and MCP Toolbox.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
