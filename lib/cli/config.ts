// commitlog config show|verify <file>: ConfigFile files, read-only. The same
// choice load() makes (main file, else `.bak`, else the newest complete temp
// file a crash left) without its lock, moves or syncs, so it works on a
// read-only mount and beside a process that saves.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { native } from '../native';
import { CliError, EXIT_DAMAGED, EXIT_OK, EXIT_REPAIRABLE, out, outJson } from './common';

// The checksum envelope's first bytes ("CLCF", docs/FORMAT.md): a file that
// starts with them is judged by its checksum, any other as plain JSON.
const ENVELOPE_MAGIC = Buffer.from('CLCF', 'latin1');
const ENVELOPE_HEADER = 16;

export interface CopyState {
  file: string;
  state: 'ok' | 'missing' | 'invalid';
  reason?: string;
  checksummed?: boolean;
  value?: unknown;
}

function readCopy(file: string): CopyState {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, state: 'missing' };
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  let payload = bytes;
  const checksummed = bytes.subarray(0, 4).equals(ENVELOPE_MAGIC);
  if (checksummed) {
    const reason = native.configUnwrap(bytes);
    if (reason !== undefined) return { file, state: 'invalid', checksummed, reason };
    payload = bytes.subarray(ENVELOPE_HEADER);
  }
  try {
    return { file, state: 'ok', checksummed, value: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return { file, state: 'invalid', checksummed, reason: `not JSON: ${(err as Error).message}` };
  }
}

/** Temp files of `file`, newest first, as load() tries them. */
function temps(file: string): string[] {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch (err) {
    throw new CliError(`${dir}: ${(err as Error).message}`);
  }
  return names
    .map((n) => ({ f: path.join(dir, n), t: fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs }))
    .filter((x): x is { f: string; t: number } => x.t !== undefined)
    .sort((a, b) => b.t - a.t)
    .map((x) => x.f);
}

// As ConfigFile: a symbolic link is followed, and the fallbacks lie next to
// its target.
function resolveTarget(file: string): string {
  try {
    return fs.realpathSync.native(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`${file}: ${(err as Error).message}`);
  }
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new CliError(`${file}: no such directory ${dir}`);
  return path.join(fs.realpathSync.native(dir), path.basename(file));
}

export interface ConfigCheck {
  file: string;
  /** The copy load() would return, or null if none is valid (load() falls back to its defaults). */
  uses: string | null;
  copies: CopyState[];
  exitCode: number;
}

export function checkConfig(file: string): ConfigCheck {
  const target = resolveTarget(file);
  const copies = [readCopy(target), readCopy(`${target}.bak`)];
  for (const t of temps(target)) copies.push(readCopy(t));
  const found = copies.find((c) => c.state === 'ok');
  if (copies.every((c) => c.state === 'missing')) throw new CliError(`${file}: no such file (nor .bak, nor temp file)`);
  const exitCode = found === copies[0] ? EXIT_OK : found ? EXIT_REPAIRABLE : EXIT_DAMAGED;
  return { file: target, uses: found?.file ?? null, copies, exitCode };
}

function verifyText(c: ConfigCheck): string {
  const lines = c.copies.map((k) => `  ${path.basename(k.file)}: ${k.state}${k.reason ? ` (${k.reason})` : ''}${k.state === 'ok' && k.checksummed ? ', checksum ok' : ''}`);
  const verdict =
    c.exitCode === EXIT_OK
      ? 'intact'
      : c.uses
        ? `main file not usable: load() would use ${path.basename(c.uses)}`
        : 'no valid copy: load() would use its defaults, or reject with ERR_CONFIG_CORRUPT';
  return `${c.file}: ${verdict}\n${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  const config = program.command('config').description('ConfigFile files (read-only: no lock, nothing moved)');
  config
    .command('show')
    .description('print the JSON load() would return (main file, else .bak, else a complete temp file)')
    .argument('<file>', 'the ConfigFile path (not its .bak)')
    .action(async (file: string) => {
      const c = checkConfig(file);
      const used = c.copies.find((k) => k.file === c.uses);
      if (!used) throw new CliError(`${file}: no valid copy (${c.copies.map((k) => `${path.basename(k.file)}: ${k.state}`).join(', ')})`, EXIT_DAMAGED);
      if (used !== c.copies[0]) process.stderr.write(`commitlog: ${file}: main file ${c.copies[0].state}; showing ${path.basename(used.file)}\n`);
      await out(`${JSON.stringify(used.value, null, 2)}\n`);
    });
  config
    .command('verify')
    .description('check a ConfigFile and its fallbacks (.bak, temp files a crash left)')
    .addHelpText(
      'after',
      '\nExit codes: 0 main file valid; 1 load() would use .bak or a temp file; 4 no valid copy; 8 cannot read.',
    )
    .argument('<file>', 'the ConfigFile path (not its .bak)')
    .option('--json', 'one JSON object on stdout')
    .action(async (file: string, opts: { json?: boolean }) => {
      const c = checkConfig(file);
      if (opts.json) await outJson({ ...c, copies: c.copies.map(({ value: _v, ...k }) => k) });
      else await out(verifyText(c));
      process.exitCode = c.exitCode;
    });
}
