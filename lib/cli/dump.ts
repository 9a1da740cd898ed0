// commitlog dump <dir>: durable records in sequence order, through a
// read-only LogReader (no lock: a live writer goes on undisturbed).
import type { Command } from 'commander';
import { LogReader } from '../reader';
import { CliError, EXIT_USAGE, logDir, parseSeq } from './common';
import { addFormatOption, type Format, writeRecord } from './records';

interface DumpOptions {
  from?: number;
  to?: number;
  format: Format;
}

async function dump(dir: string, opts: DumpOptions): Promise<void> {
  logDir(dir);
  if (opts.from !== undefined && opts.to !== undefined && opts.to < opts.from) {
    throw new CliError(`--to (${opts.to}) is below --from (${opts.from})`, EXIT_USAGE);
  }
  const reader = await LogReader.open(dir);
  try {
    // Without --to, the durable end when the dump starts: a live writer's
    // later records are tail -f's job.
    const to = opts.to ?? reader.durableSeq;
    for await (const { seq, data } of reader.read({ from: opts.from ?? reader.firstSeq, to })) {
      await writeRecord(opts.format, seq, data);
    }
  } finally {
    await reader.close();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('dump')
    .description('print durable records in sequence order (read-only, no lock)')
    .argument('<dir>', 'log directory')
    .option('--from <seq>', 'first record (default: the oldest)', parseSeq)
    .option('--to <seq>', 'stop before this record (default: the durable end when the dump starts)', parseSeq);
  addFormatOption(cmd).action((dir: string, opts: DumpOptions) => dump(dir, opts));
}
