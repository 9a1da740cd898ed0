// The one list of commands. A command is a module under lib/cli/ exporting
// `register(program)`, which adds its subcommand to the program; to add one,
// write the module and list it here.
import type { Command } from 'commander';
import * as config from './config';
import * as dump from './dump';
import * as forward from './forward';
import * as inspect from './inspect';
import * as repair from './repair';
import * as tail from './tail';
import * as verify from './verify';

export interface CommandModule {
  register(program: Command): void;
}

export const commands: readonly CommandModule[] = [inspect, verify, dump, tail, repair, config, forward];
