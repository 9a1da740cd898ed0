#!/usr/bin/env node
// An HTTP ingest service on commitlog.
//
//   node examples/ingest-service.js <log-dir> [port]
//
//   POST /records           body = one record; answers 201 {"seq": n} only once it is on stable storage
//   GET  /records?from=n    the records from n as NDJSON ({"seq", "data" (base64)}), up to the durable end
//   GET  /records?from=n&follow=1   ...and then each new record as it becomes durable, until the client goes
//   GET  /records/n         one record's bytes
//
// A client that got 201 can forget its data: kill -9 or a power loss after that loses nothing.
'use strict';
const http = require('node:http');
const { CommitLog } = require('commitlog');

const [dir, portArg] = process.argv.slice(2);
if (!dir) {
  console.error('usage: ingest-service.js <log-dir> [port]');
  process.exit(2);
}

const MAX_BODY = 1 << 20;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('record too large'), { status: 413 }));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function main() {
  const log = await CommitLog.open(dir);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/records') {
        const seq = await log.append(await readBody(req));
        return send(res, 201, { seq });
      }
      const one = /^\/records\/(\d+)$/.exec(url.pathname);
      if (req.method === 'GET' && one) {
        const data = await log.get(Number(one[1]));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(data);
      }
      if (req.method === 'GET' && url.pathname === '/records') {
        const ac = new AbortController();
        res.on('close', () => ac.abort());
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const from = url.searchParams.has('from') ? Number(url.searchParams.get('from')) : undefined;
        for await (const r of log.read({ from, follow: url.searchParams.get('follow') === '1', signal: ac.signal })) {
          // Respect backpressure: a slow client holds one read chunk, not the log.
          if (!res.write(JSON.stringify({ seq: r.seq, data: r.data.toString('base64') }) + '\n')) {
            await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
          }
        }
        return res.end();
      }
      send(res, 404, { error: 'not found' });
    } catch (err) {
      const status = err.status ?? (err.code === 'ERR_OUT_OF_RANGE' || err.code === 'ERR_LOG_TRUNCATED' ? 404 : 500);
      if (!res.headersSent) send(res, status, { error: err.message, code: err.code });
      else res.destroy(err);
    }
  });
  server.listen(Number(portArg ?? 0), '127.0.0.1', () => {
    console.log(`listening on ${server.address().port}`);
  });
  // A clean stop: answer what is in flight, then close the log (which waits for durability).
  const stop = () => {
    server.close();
    server.closeAllConnections();
    log.close().then(() => process.exit(0), (err) => {
      console.error(err);
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
