// commitlog repair <dir>: the 'truncate' recovery, offline. First the files
// it will change are copied, as they are, to <dir>/repair-<time>/ and made
// durable; then the log is opened with recovery 'truncate' (under its lock)
// and closed. Refused while a writer holds the lock.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CommitLog } from '../log';
import type { NativeLogExamination, NativeRecoveryPlan } from '../native';
import { CliError, EXIT_OK, lockHolder, out, outJson } from './common';
import { verifyLog } from './verify';

interface RepairOptions {
  dryRun?: boolean;
  json?: boolean;
}

function planText(p: NativeRecoveryPlan): string {
  const parts = [`cut ${p.bytesDropped} bytes of ${path.basename(p.file)} from offset ${p.offset}`];
  if (p.segmentsDropped > 0) parts.push(`drop ${p.segmentsDropped} later segment(s)`);
  if (p.gapTo > p.gapFrom) parts.push(`give up acknowledged records ${p.gapFrom}..${p.gapTo - 1} (their numbers are never reused)`);
  return `${parts.join(', ')}: ${p.reason}`;
}

function syncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Copies the segments the plan changes (the one it cuts and every later one)
 * and the CHECKPOINT into a new folder, durably: what is cut can be put back.
 */
function keepCopies(dir: string, ex: NativeLogExamination): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const keep = path.join(dir, `repair-${stamp}`);
  fs.mkdirSync(keep, { mode: 0o700 });
  const files = ex.segments.slice(Math.max(0, ex.truncate.keepSegments - 1)).map((s) => s.path);
  if (fs.existsSync(path.join(dir, 'CHECKPOINT'))) files.push(path.join(dir, 'CHECKPOINT'));
  for (const f of files) {
    const to = path.join(keep, path.basename(f));
    fs.copyFileSync(f, to, fs.constants.COPYFILE_EXCL);
    syncPath(to);
  }
  syncPath(keep);
  syncPath(dir);
  return keep;
}

async function repair(dir: string, opts: RepairOptions): Promise<void> {
  const v = await verifyLog(dir);
  const report = async (value: object, line: string) => (opts.json ? outJson(value) : out(`${line}\n`));
  if (v.verdict === 'clean') {
    // What the next open still does to a clean log (an interrupted truncateFrom, say) is not a
    // repair, but it changes files: say so, as verify does.
    await report(
      { dir, verdict: v.verdict, repaired: false, notes: v.notes },
      [`${dir}: clean, nothing to repair`, ...v.notes.map((n) => `  note: ${n}`)].join('\n'),
    );
    return;
  }
  const holder = lockHolder(dir);
  if (holder) throw new CliError(`${dir}: a writer (pid ${holder.pid}) holds the log's lock; stop it, then repair`);
  const plan = v.examination.truncate;
  if (opts.dryRun) {
    await report({ dir, verdict: v.verdict, dryRun: true, plan }, `${dir}: ${v.summary}\nrepair would ${planText(plan)}`);
    process.exitCode = v.exitCode;
    return;
  }
  const kept = keepCopies(dir, v.examination);
  // preallocate 'none' and no recycling: a repair makes no segment ahead of
  // time for appends that will not come.
  const log = await CommitLog.open(dir, { recovery: 'truncate', create: false, preallocate: 'none', recycleSegments: 0 });
  const recovery = log.recovery;
  await log.close();
  await report(
    { dir, verdict: v.verdict, repaired: true, plan, keptIn: kept, recovery },
    `${dir}: repaired: ${planText(plan)}\nthe files as they were before the repair are in ${kept}`,
  );
  process.exitCode = EXIT_OK;
}

export function register(program: Command): void {
  program
    .command('repair')
    .description("run the 'truncate' recovery offline: keep the valid prefix, cut the rest, keep a copy of what changes")
    .addHelpText(
      'after',
      '\nThe files the repair changes are first copied, as they are, to <dir>/repair-<time>/. Refused while a\n' +
        'writer holds the log\'s lock. Exit 0: the log is sound (repaired, or nothing to repair); 8: refused or\n' +
        'failed; with --dry-run, the code verify would give (0, 1 or 4).',
    )
    .argument('<dir>', 'log directory')
    .option('--dry-run', 'only say what would be cut (exit code as verify)')
    .option('--json', 'one JSON object on stdout')
    .action((dir: string, opts: RepairOptions) => repair(dir, opts));
}
