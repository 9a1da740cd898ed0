#!/usr/bin/env node
// Prints the source files of one or more lists in native/sources.gypi (core,
// binding, fault), one per line, relative to the repository root, for the
// scripts that compile without gyp: `node scripts/sources.js core`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const gypi = path.join(root, 'native', 'sources.gypi');

function lists() {
  // gyp files are Python literals; ours keeps to JSON apart from whole-line
  // comments, so dropping those lines is the whole parser.
  const text = fs
    .readFileSync(gypi, 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  return JSON.parse(text).variables;
}

function sources(name) {
  const files = lists()[`commitlog_${name}_files`];
  if (!Array.isArray(files)) throw new Error(`native/sources.gypi has no commitlog_${name}_files list`);
  return files.map((f) => path.posix.join('native', f));
}

module.exports = { sources };

if (require.main === module) {
  const names = process.argv.slice(2);
  if (names.length === 0) {
    console.error('usage: node scripts/sources.js core|binding|fault ...');
    process.exit(2);
  }
  for (const name of names) for (const file of sources(name)) console.log(file);
}
