// Real nats-server processes for the forwarding tests (Debian's nats-server,
// JetStream on): one node, or a cluster of three on loopback ports.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { CommitLog } from '../lib/index';
import { tmpDir } from './helpers';

/** The nats-server binary, or undefined (the tests then skip, saying why). */
export const NATS_SERVER: string | undefined = (() => {
  for (const p of [process.env.NATS_SERVER, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (p && fs.existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

export const NO_NATS = 'nats-server is not installed (Debian: apt-get install nats-server); forwarding tests skipped';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Starts the process (again, on the same store and ports); resolves once it accepts clients. */
  start(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** SIGTERM, waiting for exit. */
  stop(): Promise<void>;
  /** Sends a signal (SIGSTOP: a node that hangs without closing its connections). */
  signal(sig: NodeJS.Signals): void;
  /** SIGSTOP, resolved once the process is stopped (kill() returns before it is). */
  pause(): Promise<void>;
  readonly running: boolean;
}

function node(name: string, args: string[], port: number, logFile: string): NatsNode {
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const url = `nats://127.0.0.1:${port}`;
  async function waitReady(p: ChildProcess): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) {
        throw new Error(`nats-server ${name} exited (${p.exitCode ?? p.signalCode}); log: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`nats-server ${name} did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    name,
    port,
    url,
    get running() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    async start() {
      const out = fs.openSync(logFile, 'a');
      const p = spawn(NATS_SERVER!, args, { stdio: ['ignore', out, out] });
      fs.closeSync(out);
      proc = p;
      exited = new Promise((resolve) => p.once('exit', () => resolve()));
      await waitReady(p);
    },
    async kill() {
      if (this.running) proc!.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (this.running) proc!.kill('SIGCONT');
      if (this.running) proc!.kill('SIGTERM');
      await exited;
    },
    signal(sig: NodeJS.Signals) {
      if (this.running) proc!.kill(sig);
    },
    async pause() {
      proc!.kill('SIGSTOP');
      const stat = `/proc/${proc!.pid}/stat`;
      // Field 3 of /proc/<pid>/stat: T once stopped.
      await until('nats-server stopped', () => fs.readFileSync(stat, 'utf8').replace(/^.*\) /s, '').startsWith('T'), 5_000);
    },
  };
}

/** One JetStream node with its store in `dir`. */
export async function natsServer(dir: string): Promise<NatsNode> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const n = node('n1', ['-js', '-sd', path.join(dir, 'store'), '-a', '127.0.0.1', '-p', String(port), '-n', 'n1'], port, path.join(dir, 'n1.log'));
  await n.start();
  return n;
}

/** Three JetStream nodes clustered on loopback, stores under `dir`. Resolves once all accept clients. */
export async function natsCluster(dir: string): Promise<NatsNode[]> {
  fs.mkdirSync(dir, { recursive: true });
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const cports = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = cports.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const nodes = [0, 1, 2].map((i) => {
    const name = `n${i + 1}`;
    const conf = path.join(dir, `${name}.conf`);
    fs.writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${ports[i]}`,
        `jetstream { store_dir: "${path.join(dir, name)}" }`,
        `cluster { name: fwd, listen: 127.0.0.1:${cports[i]}, routes: [${routes.split(',').map((r) => `"${r}"`).join(', ')}] }`,
        '',
      ].join('\n'),
    );
    return node(name, ['-c', conf], ports[i], path.join(dir, `${name}.log`));
  });
  await Promise.all(nodes.map((n) => n.start()));
  return nodes;
}

export interface StoredRecord {
  streamSeq: number;
  subject: string;
  id: string;
  data: Buffer;
}

/**
 * `fn` again while a cluster elects a leader (up to 120 times, 250 ms apart: a
 * node resumed from SIGSTOP kept JetStream unavailable for over 10 s in CI).
 */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const e = err as Error & { code?: number };
      // A timeout, "JetStream system temporarily unavailable", no responders: a cluster electing.
      const transient = e?.name === 'TimeoutError' || e?.code === 10008 || /no responders|temporarily unavailable/i.test(e?.message ?? '');
      if (i >= 120 || !transient) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A client connection for the tests' own checks (the NATS client, as users have it). */
export async function client(servers: string | string[]) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  // No account check at connect: a cluster that just lost a node answers it late.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const js = jetstream(nc);
  return {
    nc,
    jsm,
    js,
    /**
     * Every message of `stream` (on `subject` if given), in stream order, fetched one by one by
     * sequence (64 at a time): a consumer on a cluster whose nodes were just killed can stall.
     */
    async read(stream: string, subject?: string): Promise<StoredRecord[]> {
      const info = await retried(() => jsm.streams.info(stream));
      const { first_seq: first, last_seq: last } = info.state;
      const out: Array<StoredRecord | undefined> = [];
      if (info.state.messages === 0) return [];
      let next = first;
      const worker = async () => {
        while (next <= last) {
          const seq = next++;
          const m = await retried(() => jsm.streams.getMessage(stream, { seq })).catch((err: { code?: number }) => {
            if (err?.code === 10037) return null; // deleted
            throw err;
          });
          if (m && (!subject || m.subject === subject)) {
            out[seq - first] = { streamSeq: m.seq, subject: m.subject, id: m.header?.get('Nats-Msg-Id') ?? '', data: Buffer.from(m.data) };
          }
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
      return out.filter((m): m is StoredRecord => m !== undefined);
    },
    /** The stream's info, asked again while a cluster elects a leader. */
    info: (stream: string) => retried(() => jsm.streams.info(stream)),
    close: () => nc.close(),
  };
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Record i's bytes: binary, of varied sizes, one empty. */
export function payload(i: number): Buffer {
  const n = i % 97 === 5 ? 0 : 1 + ((i * 7919) % 3000);
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** The stream holds exactly records [0, n) of `log`, in order, once each, byte-identical. */
export function expectExactly(stored: StoredRecord[], logId: string, n: number, data: (i: number) => Buffer = payload): void {
  const ids = stored.map((m) => m.id);
  const seen = new Set(ids);
  expect(seen.size, 'no duplicates').toBe(ids.length);
  expect(stored.length, 'every record').toBe(n);
  for (let i = 0; i < n; i++) {
    const m = stored[i];
    if (m.id !== `${logId}-${i}` || !m.data.equals(data(i))) {
      throw new Error(`stream message ${i}: id ${m.id}, ${m.data.length} bytes; expected ${logId}-${i}, ${data(i).length} bytes`);
    }
  }
}


/**
 * What a forwarding test starts, stopped after each test, newest first: `stops` takes any
 * cleanup; server(), natsClient() and openLog() register their own.
 */
export function natsFixtures() {
  const stops: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  });
  return {
    stops,
    async server(): Promise<NatsNode> {
      const n = await natsServer(tmpDir('commitlog-nats-'));
      stops.push(() => n.kill());
      return n;
    },
    async natsClient(url: string | string[]) {
      const c = await client(url);
      stops.push(() => c.close());
      return c;
    },
    async openLog(dir = tmpDir()): Promise<CommitLog> {
      const log = await CommitLog.open(dir);
      stops.push(() => log.close());
      return log;
    },
  };
}
