// How dump and tail print records. Every format is lossless: any bytes,
// including invalid UTF-8 and newlines, come back exactly.
import type { Command } from 'commander';
import { Option } from 'commander';
import { out } from './common';

/**
 * - json: one object per line, `{"seq":N,"data":"<base64>"}`;
 * - raw: each record as the log frames it, a u32 little-endian length, then its bytes;
 * - hex: a header line per record, then hexdump -C style lines;
 * - text: each record's bytes followed by a newline (lossless only for records without one).
 */
export const FORMATS = ['json', 'raw', 'hex', 'text'] as const;
export type Format = (typeof FORMATS)[number];

export function addFormatOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--format <format>', 'json (base64 data, one object per line), raw (u32 LE length + bytes), hex, text')
      .choices(FORMATS)
      .default('json'),
  );
}

function hexLines(data: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

export function writeRecord(format: Format, seq: number, data: Uint8Array): Promise<void> {
  switch (format) {
    case 'json':
      return out(`{"seq":${seq},"data":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}"}\n`);
    case 'raw': {
      const frame = Buffer.allocUnsafe(4 + data.length);
      frame.writeUInt32LE(data.length, 0);
      frame.set(data, 4);
      return out(frame);
    }
    case 'hex':
      return out(`record ${seq}, ${data.length} bytes\n${hexLines(data)}`);
    case 'text':
      return out(Buffer.concat([data, Buffer.from('\n')]));
  }
}
