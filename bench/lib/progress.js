'use strict';
// Progress of a run. On a terminal, a cli-progress bar redrawn in place;
// anywhere else (a pipe, a CI log, `2>run.log`) one plain line per finished
// cell, so a log file holds lines rather than one long line of '\r' redraws.
const cliProgress = require('cli-progress');

function createProgress(total, stream = process.stderr) {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: '[{bar}] {value}/{total} cells, ETA {eta_formatted} | {cell}', hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.legacy,
    );
    bar.start(total, 0, { cell: '' });
    return {
      // A bar has room for what runs now; the finished cell's result is in the report.
      start: (label) => bar.update({ cell: label }),
      done: (_label, _summary) => bar.increment(),
      stop: () => bar.stop(),
    };
  }
  let done = 0;
  return {
    start: () => {},
    done: (label, summary) => {
      done++;
      stream.write(`cell ${done}/${total} ${label}: ${summary}\n`);
    },
    stop: () => {},
  };
}

module.exports = { createProgress };
