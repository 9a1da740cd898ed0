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

// reference() of every prefix of buf in one pass: out[n] covers buf[0, n).
function prefixReferences(buf: Uint8Array, init: number): Uint32Array {
  const out = new Uint32Array(buf.length + 1);
  out[0] = init;
  let crc = ~init >>> 0;
  for (let i = 0; i < buf.length; i++) {
    crc ^= buf[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    out[i + 1] = ~crc >>> 0;
  }
  return out;
}

// Deterministic bytes with no period: lanes of repeating data would hide a
// fold that shifts the wrong lane.
function randomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
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

  it('agrees with the reference at every length to 8 KiB and past 1 MiB, where three chains run at once', () => {
    const data = randomBytes((1 << 20) + 64, 20250611);
    const mismatches: string[] = [];
    for (const [start, init] of [[0, 0], [3, 0x12345678], [13, 0xffffffff]]) {
      const refs = prefixReferences(data.subarray(start, start + 8192), init);
      for (let len = 0; len <= 8192; len++) {
        const got = native.crc32c(data.subarray(start, start + len), init);
        if (got !== refs[len]) mismatches.push(`start ${start} len ${len} init ${init}`);
      }
    }
    expect(mismatches).toEqual([]);
    const whole = data.subarray(7, 7 + (1 << 20) + 13);
    expect(native.crc32c(whole, 0xdeadbeef)).toBe(reference(whole, 0xdeadbeef));
  });

  it('reports whether it uses a CPU instruction', () => {
    expect(typeof native.crc32cHardware).toBe('boolean');
  });
});
