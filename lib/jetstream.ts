// The NATS JetStream sink of `commitlog/forward`. The NATS client is an
// optional peer dependency: it is loaded when a sink first connects, so
// `commitlog/forward` with another sink needs no NATS package at all.
// The few shapes of the NATS client this file uses, declared here so that
// the published types do not need the client installed.
interface MsgHdrs {
  set(key: string, value: string): void;
  readonly code: number;
  readonly description: string;
}
interface Msg {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
}
interface Subscription {
  unsubscribe(): void;
}
interface NatsConnection {
  isClosed(): boolean;
  close(): Promise<void>;
  publish(subject: string, data: Uint8Array, opts: { reply: string; headers: MsgHdrs }): void;
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }): Subscription;
  status(): AsyncIterable<{ type: string; error?: Error & { operation?: string; subject?: string } }> & { stop(): void };
}
interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}
interface StoredMsg {
  seq: number;
  data: Uint8Array;
  header?: { get(key: string): string };
}
interface JetStreamManager {
  streams: {
    info(stream: string): Promise<{ config: { subjects?: string[] }; state: { messages: number; last_seq: number } }>;
    getMessage(stream: string, query: { last_by_subj: string }): Promise<StoredMsg | null>;
  };
}
/** Options of the NATS client's connect() (@nats-io/transport-node), passed through. */
export type NatsConnectOptions = Record<string, unknown>;
type NodeConnectionOptions = NatsConnectOptions & { servers: string[] };

import { LogError, invalidArgType, invalidValue, outOfRange } from './errors';
import type { Sink, SinkLogInfo, SinkPosition, SinkRecord } from './forward';

/** Options of jetStreamSink(); unknown keys are rejected. */
export interface JetStreamSinkOptions {
  /** NATS server URLs (`nats://host:4222`, `tls://…`, or `host:port`): one, or several of a cluster. */
  servers: string | string[];
  /** The stream that must capture `subject`. It must exist: the sink never creates or changes streams. */
  stream: string;
  /** The subject every record is published on (no wildcards). */
  subject: string;
  /**
   * true (the default): this forwarder is the stream's only publisher, and publishes are
   * pipelined, each expecting the previous one's message id to be the stream's last
   * (`Nats-Expected-Last-Msg-Id`), so that a lost publish can never be overtaken by a later one.
   * false: the stream is shared; publishes go one at a time, each expecting the previous one's
   * sequence on `subject` (`Nats-Expected-Last-Subject-Sequence`): as safe, slower.
   */
  exclusive?: boolean;
  /** How long to wait for the stream's acknowledgement of a publish (and for API calls). Default 10,000 ms. */
  timeoutMs?: number;
  /** More options for the NATS client's connect() (credentials, TLS, name…); `servers` is the sink's. */
  connection?: NatsConnectOptions;
}

const ID = /^(\d+)-(\d+)$/;
const SUBJECT = /^[^\s*>.]+(\.[^\s*>.]+)*$/;
// JetStream API errors retrying cannot fix: the message is larger than the
// stream allows, the stream does not exist, JetStream is off for the account,
// another stream captures the subject.
const FATAL_API_CODES = new Set([10054, 10059, 10039, 10060]);

function sinkError(message: string, cause?: unknown, retryable = false): LogError {
  return Object.assign(new LogError(message, 'ERR_SINK', { cause }), { retryable });
}

function checkServers(servers: unknown): string[] {
  const list = typeof servers === 'string' ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0) throw invalidArgType('options.servers', 'a URL string or a non-empty array of them', servers);
  for (const s of list) {
    if (typeof s !== 'string') throw invalidArgType('options.servers', 'a URL string or a non-empty array of them', s);
    let url: URL;
    try {
      url = new URL(s.includes('://') ? s : `nats://${s}`);
    } catch {
      throw invalidValue('options.servers', 'not a URL', s);
    }
    if (!['nats:', 'tls:'].includes(url.protocol) || url.hostname === '' || url.pathname.replace(/^\/$/, '') !== '') {
      throw invalidValue('options.servers', 'must be nats://host[:port] or tls://host[:port]', s);
    }
  }
  return list as string[];
}

/** Whether the stream subject pattern `pattern` (with `*` and `>`) captures `subject`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

interface Nats {
  connect: (opts: NodeConnectionOptions) => Promise<NatsConnection>;
  headers: () => MsgHdrs;
  createInbox: (prefix?: string) => string;
  jetstreamManager: (nc: NatsConnection, opts?: { timeout?: number }) => Promise<JetStreamManager>;
}

function loadNats(): Nats {
  try {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const transport = require('@nats-io/transport-node') as Pick<Nats, 'connect' | 'headers' | 'createInbox'>;
    const js = require('@nats-io/jetstream') as Pick<Nats, 'jetstreamManager'>;
    return { connect: transport.connect, headers: transport.headers, createInbox: transport.createInbox, jetstreamManager: js.jetstreamManager };
  } catch (err) {
    throw sinkError(
      'jetStreamSink needs the NATS client, an optional peer dependency: npm install @nats-io/transport-node @nats-io/jetstream',
      err,
    );
  }
}

/**
 * JetStream publishes with their acknowledgements, many in flight: each is a plain publish with
 * a reply subject under one inbox, and one subscription takes every acknowledgement (as the Go
 * client's PublishAsync does). The NATS client's request() costs two Error objects with stacks,
 * a timer and a muxed subscription entry per message, which took half of a forwarder's CPU time
 * (measured with --cpu-prof). Timeouts are checked by one timer, oldest first.
 */
class AckedPublisher {
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #timeoutMs: number;
  readonly #timer: NodeJS.Timeout;
  // Insertion order is send order, so deadlines are in order too.
  readonly #pending = new Map<string, { resolve: (a: PubAck) => void; reject: (e: unknown) => void; deadline: number }>();
  #next = 0;
  #broken: unknown;
  #status: { stop(): void } | undefined;

  readonly #onTimeout: () => void;

  constructor(nats: Nats, nc: NatsConnection, timeoutMs: number, onTimeout: () => void, inboxPrefix?: string) {
    this.#nc = nc;
    this.#onTimeout = onTimeout;
    this.#inbox = nats.createInbox(inboxPrefix);
    this.#timeoutMs = timeoutMs;
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => this.#onReply(err, msg) });
    this.#timer = setInterval(() => this.#expire(), Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))));
    this.#timer.unref?.();
    void this.#watch();
  }

  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const token = (this.#next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.#pending.set(token, { resolve, reject, deadline: performance.now() + this.#timeoutMs });
      try {
        this.#nc.publish(subject, data, { reply: `${this.#inbox}.${token}`, headers });
      } catch (err) {
        this.#pending.delete(token);
        reject(classify(err, 'publish'));
      }
    });
  }

  close(): void {
    clearInterval(this.#timer);
    // Else every resume() would leave a listener on the connection.
    this.#status?.stop();
    try {
      this.#sub.unsubscribe();
    } catch {
      // A closed connection has no subscriptions left.
    }
    this.#rejectAll(sinkError('jetstream: the connection was closed', undefined, true));
  }

  #onReply(err: Error | null, msg: Msg): void {
    if (err) {
      // The inbox subscription failed (a permission violation on it): nothing will be acknowledged.
      this.#broken = classify(err, 'acknowledgement subscription');
      this.#rejectAll(this.#broken);
      return;
    }
    const token = msg.subject.slice(this.#inbox.length + 1);
    const p = this.#pending.get(token);
    if (!p) return; // timed out already
    this.#pending.delete(token);
    if (msg.headers && msg.headers.code >= 300) {
      // 503: no stream (or no leader yet) answered on the subject.
      p.reject(sinkError(`jetstream: publish: ${msg.headers.code} ${msg.headers.description || 'no responders'}`, undefined, true));
      return;
    }
    let v: { error?: { code: number; err_code: number; description: string } } & Partial<PubAck>;
    try {
      v = JSON.parse(Buffer.from(msg.data).toString('utf8'));
    } catch (e) {
      p.reject(sinkError('jetstream: an acknowledgement that is not JSON', e, true));
      return;
    }
    if (v.error) {
      const fatal = FATAL_API_CODES.has(v.error.err_code);
      p.reject(Object.assign(sinkError(`jetstream: publish: ${v.error.description} (${v.error.err_code})`, undefined, !fatal), { apiCode: v.error.err_code }));
      return;
    }
    if (typeof v.stream !== 'string' || typeof v.seq !== 'number') {
      p.reject(sinkError('jetstream: an acknowledgement without stream and sequence', undefined, true));
      return;
    }
    p.resolve({ stream: v.stream, seq: v.seq, duplicate: v.duplicate === true });
  }

  #expire(): void {
    const now = performance.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(token);
      this.#onTimeout();
      p.reject(sinkError(`jetstream: no acknowledgement within ${this.#timeoutMs} ms`, undefined, true));
    }
  }

  // A publish the account may not make is reported only as a connection error event.
  async #watch(): Promise<void> {
    try {
      const status = this.#nc.status();
      this.#status = status;
      for await (const s of status) {
        const e = s.error;
        if (s.type === 'error' && e?.name === 'PermissionViolationError' && e.operation === 'publish') {
          this.#broken = sinkError(`jetstream: ${e.message}`, e);
          this.#rejectAll(this.#broken);
        }
      }
    } catch {
      // The connection closed: close() settles what is pending.
    }
  }

  #rejectAll(err: unknown): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) p.reject(err);
  }
}

function isFatal(err: unknown): boolean {
  const name = (err as Error)?.name;
  if (name === 'PermissionViolationError' || name === 'InvalidArgumentError' || name === 'AuthorizationError') return true;
  if (name === 'JetStreamApiError' || name === 'StreamNotFoundError') return FATAL_API_CODES.has((err as { code: number }).code);
  return false;
}

/** A failure of the NATS client, marked for the forwarder: retried unless it cannot help. */
function classify(err: unknown, what: string): LogError {
  return sinkError(`jetstream: ${what}: ${(err as Error)?.message ?? String(err)}`, err, !isFatal(err));
}

class JetStreamSink implements Sink {
  readonly #servers: string[];
  readonly #stream: string;
  readonly #subject: string;
  readonly #exclusive: boolean;
  readonly #timeout: number;
  readonly #connection: NatsConnectOptions;
  #nats: Nats | undefined;
  #nc: NatsConnection | undefined;
  #pub: AckedPublisher | undefined;
  // Exclusive: what the next publish expects to be the stream's last message
  // (a message id, or at resume the stream's last sequence).
  #expectMsgId: string | undefined;
  #expectSeq: number | undefined;
  // Shared: the previous publish, and its sequence on the subject.
  #chain: Promise<unknown> = Promise.resolve();
  #subjectSeq = 0;
  #closed = false;
  // A request or an acknowledgement timed out: the server the connection is
  // on may hang without closing it (a stopped VM, a partition), which the
  // client notices only after its pings go unanswered. The next resume()
  // connects afresh, to whichever server answers.
  #suspect = false;

  constructor(o: Required<Omit<JetStreamSinkOptions, 'connection'>> & { connection: JetStreamSinkOptions['connection'] }) {
    this.#servers = o.servers as string[];
    this.#stream = o.stream;
    this.#subject = o.subject;
    this.#exclusive = o.exclusive;
    this.#timeout = o.timeoutMs;
    this.#connection = o.connection ?? {};
  }

  async resume(log: SinkLogInfo): Promise<SinkPosition> {
    if (this.#closed) throw sinkError('jetstream: the sink is closed');
    this.#nats ??= loadNats();
    const nc = await this.#connect();
    if (this.#closed) {
      // close() came while this connected: the connection is not left open.
      await nc.close();
      throw sinkError('jetstream: the sink is closed');
    }
    let jsm: JetStreamManager;
    let info;
    try {
      jsm = await this.#nats.jetstreamManager(nc, { timeout: this.#timeout });
      info = await jsm.streams.info(this.#stream);
    } catch (err) {
      if ((err as Error)?.name === 'StreamNotFoundError') {
        throw sinkError(`jetstream: stream ${this.#stream} does not exist (the sink never creates streams)`, err);
      }
      if ((err as Error)?.name === 'TimeoutError') this.#suspect = true;
      throw classify(err, `stream ${this.#stream}`);
    }
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((p) => subjectMatches(p, this.#subject))) {
      throw sinkError(`jetstream: stream ${this.#stream} does not capture subject ${this.#subject} (its subjects: ${subjects.join(', ') || 'none'})`);
    }
    let last;
    try {
      last = info.state.messages === 0 ? null : await jsm.streams.getMessage(this.#stream, { last_by_subj: this.#subject });
    } catch (err) {
      // No message on the subject is an answer, not a failure.
      if ((err as { code?: number })?.code !== 10037) {
        if ((err as Error)?.name === 'TimeoutError') this.#suspect = true;
        throw classify(err, `last message on ${this.#subject}`);
      }
      last = null;
    }
    this.#pub?.close();
    this.#pub = new AckedPublisher(this.#nats, nc, this.#timeout, () => (this.#suspect = true), this.#connection.inboxPrefix as string | undefined);
    this.#expectMsgId = undefined;
    this.#expectSeq = info.state.last_seq;
    this.#subjectSeq = last?.seq ?? 0;
    this.#chain = Promise.resolve();
    const m = ID.exec(last?.header?.get('Nats-Msg-Id') ?? '');
    return m && m[1] === log.logId ? { next: Number(m[2]) + 1, last: last!.data } : {};
  }

  publish(record: SinkRecord): Promise<void> {
    const js = this.#pub;
    if (!js || this.#closed) return Promise.reject(sinkError('jetstream: publish before resume', undefined, true));
    if (this.#exclusive) {
      const expect = this.#expectMsgId !== undefined ? { lastMsgID: this.#expectMsgId } : { lastSequence: this.#expectSeq };
      this.#expectMsgId = record.id;
      return this.#send(js, record, expect).then(() => undefined);
    }
    const run = this.#chain.then(async () => {
      const ack = await this.#send(js, record, { lastSubjectSequence: this.#subjectSeq });
      this.#subjectSeq = ack.seq;
    });
    // A failure ends the forwarder's attempt: what is chained behind it fails too, unsent.
    this.#chain = run;
    return run;
  }

  async #send(pub: AckedPublisher, record: SinkRecord, expect: { lastMsgID?: string; lastSequence?: number; lastSubjectSequence?: number }): Promise<PubAck> {
    const h = this.#nats!.headers();
    h.set('Nats-Msg-Id', record.id);
    if (expect.lastMsgID !== undefined) h.set('Nats-Expected-Last-Msg-Id', expect.lastMsgID);
    if (expect.lastSequence !== undefined) h.set('Nats-Expected-Last-Sequence', String(expect.lastSequence));
    if (expect.lastSubjectSequence !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expect.lastSubjectSequence));
    const ack = await pub.publish(this.#subject, record.data, h);
    if (ack.stream !== this.#stream) throw sinkError(`jetstream: ${this.#subject} was stored by stream ${ack.stream}, not ${this.#stream}`);
    return ack;
  }

  async #connect(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed() && this.#suspect) {
      const old = this.#nc;
      this.#nc = undefined;
      await old.close().catch(() => {});
    }
    this.#suspect = false;
    if (this.#nc && !this.#nc.isClosed()) return this.#nc;
    try {
      // Reconnects forever once connected: an outage is waited out, never a reason to stop.
      this.#nc = await this.#nats!.connect({
        name: 'commitlog-forward',
        // No Error (with its stack) made ahead for every API call.
        noAsyncTraces: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: this.#timeout,
        // A server that stops answering is left within about two pings.
        pingInterval: Math.min(this.#timeout, 30_000),
        maxPingOut: 2,
        ...this.#connection,
        servers: this.#servers,
      });
      return this.#nc;
    } catch (err) {
      throw classify(err, `connect to ${this.#servers.join(',')}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#pub?.close();
    const nc = this.#nc;
    this.#nc = undefined;
    if (nc && !nc.isClosed()) await nc.close();
  }
}

/**
 * A Sink that publishes each record to a NATS JetStream stream, with `Nats-Msg-Id` set to the
 * record's id (so the stream's duplicate window drops re-sends) and an expectation on the
 * stream's last message (so records are stored in order, each once, across reconnects and
 * leader changes). On resume it asks the stream for the last message on `subject`, and the
 * forwarder goes on after it: exactly once even past the duplicate window. See README, "Forwarding".
 */
export function jetStreamSink(options: JetStreamSinkOptions): Sink {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  const known = new Set(['servers', 'stream', 'subject', 'exclusive', 'timeoutMs', 'connection']);
  for (const key of Object.keys(options)) if (!known.has(key)) throw invalidValue('options', `unknown option "${key}"`, key);
  const servers = checkServers(options.servers);
  const { stream, subject, exclusive = true, timeoutMs = 10_000, connection } = options;
  if (typeof stream !== 'string' || !/^[^\s.*>/\\]+$/.test(stream)) throw invalidValue('options.stream', 'must be a stream name (no spaces, ., *, >, / or \\)', stream);
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) throw invalidValue('options.subject', 'must be a subject without wildcards', subject);
  if (typeof exclusive !== 'boolean') throw invalidArgType('options.exclusive', 'of type boolean', exclusive);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 3_600_000) throw outOfRange('options.timeoutMs', 'an integer from 1 to 3600000', timeoutMs);
  if (connection !== undefined && (connection === null || typeof connection !== 'object')) throw invalidArgType('options.connection', 'an object', connection);
  return new JetStreamSink({ servers, stream, subject, exclusive, timeoutMs, connection });
}
