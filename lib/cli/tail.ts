// commitlog tail <dir> [-f]: the last records and, with -f, each new one
// once the writer (another process) has made it durable, until SIGINT or
// SIGTERM, which end it cleanly (exit 0).
import type { Command } from 'commander';
import { LogReader } from '../reader';
import { logDir, parseCount } from './common';
import { addFormatOption, type Format, writeRecord } from './records';

interface TailOptions {
  lines: number;
  follow?: boolean;
  format: Format;
}

async function tail(dir: string, opts: TailOptions): Promise<void> {
  logDir(dir);
  const reader = await LogReader.open(dir);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const from = Math.max(reader.firstSeq, reader.durableSeq - opts.lines);
    const iter = reader.read({ from, follow: opts.follow === true, signal: stop.signal });
    for await (const { seq, data } of iter) {
      await writeRecord(opts.format, seq, data);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await reader.close();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('tail')
    .description('print the last records; with -f, follow a live log written by another process (read-only, no lock)')
    .argument('<dir>', 'log directory')
    .option('-n, --lines <n>', 'how many of the last records', parseCount, 10)
    .option('-f, --follow', 'then wait for new durable records until SIGINT/SIGTERM');
  addFormatOption(cmd).action((dir: string, opts: TailOptions) => tail(dir, opts));
}
