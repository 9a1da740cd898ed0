import { describe, expect, it } from 'vitest';
import { native } from '../lib/native';

function reference(buf: Uint8Array, crc = 0): number {
  crc = ~crc >>> 0;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it('matches the RFC 3720 test vectors', () => {
    expect(native.crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(native.crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(native.crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(native.crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(native.crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
  });

  it('agrees with a bitwise reference at every length and alignment, and when extended', () => {
    const data = Buffer.alloc(300);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    for (let start = 0; start < 9; start++) {
      for (let len = 0; len < 100; len++) {
        const part = data.subarray(start, start + len);
        expect(native.crc32c(part)).toBe(reference(part));
      }
    }
    const a = data.subarray(0, 123);
    const b = data.subarray(123);
    expect(native.crc32c(b, native.crc32c(a))).toBe(reference(data));
  });

  it('reports whether it uses a CPU instruction', () => {
    expect(typeof native.crc32cHardware).toBe('boolean');
  });
});
