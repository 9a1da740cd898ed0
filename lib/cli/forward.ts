// commitlog forward <dir> --nats <url> --stream <name>: ships a log written
// by another process (read through a LogReader: no lock, no writes but the
// cursor's) to a NATS JetStream stream, until SIGINT or SIGTERM (exit 0).
// Safe to kill -9 and start again at any moment: it resumes from its cursor
// and the stream's own last record, exactly once (README, "Forwarding").
import { type Command, InvalidArgumentError } from 'commander';
import { forward } from '../forward';
import { jetStreamSink } from '../jetstream';
import { LogReader } from '../reader';
import { CliError, EXIT_USAGE, logDir, parseCount } from './common';

interface ForwardOptions {
  nats: string[];
  stream: string;
  subject?: string;
  cursor: string;
  shared?: boolean;
  maxInFlight: number;
  timeout: number;
  quiet?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter(Boolean)];
}

function say(opts: ForwardOptions, line: string): void {
  if (!opts.quiet) process.stderr.write(`commitlog forward: ${line}\n`);
}

async function run(dir: string, opts: ForwardOptions): Promise<void> {
  logDir(dir);
  let sink;
  try {
    sink = jetStreamSink({
      servers: opts.nats,
      stream: opts.stream,
      subject: opts.subject ?? opts.stream,
      exclusive: opts.shared !== true,
      timeoutMs: opts.timeout,
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}`, EXIT_USAGE);
  }
  const reader = await LogReader.open(dir);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const f = forward(reader, sink, {
    cursor: opts.cursor,
    maxInFlight: opts.maxInFlight,
    signal: stop.signal,
    onRetry: (err, delayMs) => say(opts, `retrying in ${delayMs} ms: ${(err as Error).message ?? String(err)}`),
  });
  say(opts, `forwarding ${dir} (log ${reader.logId}) to stream ${opts.stream}, subject ${opts.subject ?? opts.stream}, cursor ${opts.cursor}`);
  // A line a minute while it runs: where it is and how far behind.
  let last = '';
  const report = setInterval(() => {
    const s = f.stats();
    const line = `${s.state}: at ${s.acknowledged}, ${s.lagRecords} records behind, ${s.forwarded} forwarded`;
    if (line !== last) say(opts, (last = line));
  }, 60_000);
  report.unref();
  try {
    await f.done;
    const s = f.stats();
    say(opts, `stopped at ${s.position} (${s.forwarded} forwarded this run)`);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw new CliError(cause ? `${(err as Error).message}` : String((err as Error).message));
  } finally {
    clearInterval(report);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await reader.close();
  }
}

function positive(value: string): number {
  const n = parseCount(value);
  if (n > 3_600_000) throw new InvalidArgumentError('must be at most 3600000.');
  return n;
}

export function register(program: Command): void {
  program
    .command('forward')
    .description('ship a live log to a NATS JetStream stream, exactly once, until SIGINT/SIGTERM (safe to kill -9 and restart)')
    .argument('<dir>', 'log directory (written by another process, or not)')
    .requiredOption('--nats <url>', 'NATS server URL (nats://host:4222); repeat or comma-separate for a cluster', collect)
    .requiredOption('--stream <name>', 'the JetStream stream (must exist and capture the subject)')
    .option('--subject <subject>', 'subject to publish on (default: the stream name)')
    .option('--cursor <name>', 'the durable cursor it resumes from', 'forward')
    .option('--shared', 'the stream has other publishers: one publish at a time, ordered by subject sequence')
    .option('--max-in-flight <n>', 'publishes awaiting the stream at most', parseCount, 256)
    .option('--timeout <ms>', 'wait this long for the stream to acknowledge', positive, 10_000)
    .option('-q, --quiet', 'no progress lines on stderr')
    .action((dir: string, opts: ForwardOptions) => run(dir, opts));
}
