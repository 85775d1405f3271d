import type { Command } from 'commander';

// Subcommands are added by the module that owns this concern.
export function register(_program: Command): void {}
