#!/usr/bin/env node
// The `commitlog` command. Expected failures (a missing directory, a damaged
// or locked log, a bad option) print one line on stderr and exit with the
// fsck-style codes of common.ts; only a bug prints a stack.
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import { EXIT_ERROR, EXIT_OK, EXIT_USAGE, describeError } from './common';

// The package's own package.json, however deep the build put this file.
function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'commitlog' && pkg.version) return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return 'unknown';
}

function buildProgram(): Command {
  const program = new Command('commitlog')
    .description('inspect, verify, dump, follow and repair commitlog logs; check ConfigFile files')
    .version(packageVersion())
    .showHelpAfterError()
    // Inherited by the subcommands the modules add: commander then throws
    // instead of exiting, and main() picks the code.
    .exitOverride();
  for (const c of commands) c.register(program);
  return program;
}

// commander's own code is 0 for --help and --version, 1 for everything else
// (help shown because a command is missing, an unknown option, ...).
function exitCodeOf(err: CommanderError): number {
  return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
}

async function main(argv: string[]): Promise<void> {
  // `commitlog dump dir | head`: a closed pipe ends the output, not in a stack.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = exitCodeOf(err);
      return;
    }
    const known = describeError(err);
    if (known) {
      process.stderr.write(`commitlog: ${known.message}\n`);
      process.exitCode = known.exitCode;
      return;
    }
    process.stderr.write(`commitlog: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = EXIT_ERROR;
  }
}

void main(process.argv);
