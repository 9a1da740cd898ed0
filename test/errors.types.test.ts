import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './helpers';

const LIB = path.resolve(__dirname, '..', 'lib', 'index');

// The public types, checked by compiling snippets against lib/ (the tests
// themselves are not type-checked): each snippet is valid, or must fail with
// the given TypeScript error code.
function diagnostics(source: string): number[] {
  const file = path.join(tmpDir(), 'snippet.ts');
  fs.writeFileSync(file, `import { ConfigFile, LogError } from ${JSON.stringify(LIB)};\n${source}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file).map((d) => d.code);
}

describe('public types', () => {
  it("types ConfigFile's 'recovery' listener argument as LoadInfo, and LogError.code as a union", () => {
    expect(
      diagnostics(`
        const cfg = new ConfigFile('/x');
        cfg.on('recovery', (info) => { const s: 'main' | 'backup' | 'temp' | 'defaults' = info.source; void s; });
        declare const err: LogError;
        if (err.code === 'ERR_LOG_CORRUPT' || err.code === 'EIO' || err.code === 'ERR_CONFIG_FAILED') void 0;
      `),
    ).toEqual([]);
  }, 60_000);

  it("rejects a 'recovery' listener that expects something else", () => {
    // TS2345: argument not assignable.
    expect(diagnostics(`new ConfigFile('/x').on('recovery', (info: number) => void info);`)).toEqual([2345]);
  }, 60_000);

  it('rejects comparing LogError.code with a code the library never uses', () => {
    // TS2367: the comparison has no overlap.
    expect(diagnostics(`declare const err: LogError; if (err.code === 'ERR_LOG_CORUPT') void 0;`)).toEqual([2367]);
  }, 60_000);
});
