'use strict';
// The forwarder of bench/forward.js's "another process" row: what
// `commitlog forward` does, reading the log through a LogReader.
//   node bench/forward-child.js <logDir> <url> <stream> <subject>
const path = require('node:path');
const root = path.join(__dirname, '..');
const { LogReader } = require(path.join(root, 'dist', 'index.js'));
const { forward, jetStreamSink } = require(path.join(root, 'dist', 'forward.js'));

async function main() {
  const [dir, url, stream, subject] = process.argv.slice(2);
  const reader = await LogReader.open(dir, { pollIntervalMs: 10 });
  const f = forward(reader, jetStreamSink({ servers: url, stream, subject }), { commitIntervalMs: 100 });
  process.on('SIGTERM', () => void f.stop());
  process.stdout.write('started\n');
  await f.done;
  await reader.close();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
