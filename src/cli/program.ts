// The `bqwarden` command tree. Each concern registers its own subcommands from its own file;
// every file imports what its commands run only when they run, so `bqwarden --help` loads
// commander and little else.
import { Command } from 'commander';
import { register as demo } from './demo.js';
import { register as token } from './token.js';
import { register as audit } from './audit.js';
import { register as sql } from './sql.js';
import { register as policy } from './policy.js';
import { register as approvals } from './approvals.js';
import { register as gcp } from './gcp.js';
import { register as examiner } from './examiner.js';

export function buildProgram(): Command {
  const program = new Command('bqwarden').description('Query firewall and compliance pipeline between MCP agents and BigQuery').showHelpAfterError();
  for (const reg of [demo, token, audit, sql, policy, approvals, gcp, examiner]) reg(program);
  return program;
}
