import { describe, expect, it } from 'vitest';
import { CommitLog, LogReader } from '../lib';
import { tmpDir } from './helpers';

// A typo in a read option ({ form: 5 }) must not read from the oldest record
// as if no option were given: both the writer's and a reader's read() reject it.
describe('read options', () => {
  it('CommitLog.read rejects an unknown option with ERR_INVALID_ARG_VALUE, and so does LogReader.read', async () => {
    const dir = tmpDir();
    const log = await CommitLog.open(dir);
    await log.appendMany([Buffer.from('a'), Buffer.from('b')]);
    const reader = await LogReader.open(dir);
    try {
      for (const src of [log, reader]) {
        let err: unknown;
        try {
          for await (const r of src.read({ form: 1 } as never)) void r;
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(RangeError);
        expect(err).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      }
      // The option spelt right still works.
      const seqs: number[] = [];
      for await (const r of reader.read({ from: 1 })) seqs.push(r.seq);
      expect(seqs).toEqual([1]);
    } finally {
      await reader.close();
      await log.close();
    }
  });
});
