'use strict';
// What the bench scripts share: `--flag` / `--name value` parsing, `--help` (the script's header
// comment, lines 3.. of the file) and the median that every report uses.
const fs = require('node:fs');

function cli(file, helpLines) {
  const argv = process.argv.slice(2);
  const has = (f) => argv.includes(`--${f}`);
  const opt = (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
  };
  if (helpLines && (has('help') || has('h'))) {
    console.log(
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .slice(2, 2 + helpLines)
        .join('\n'),
    );
    process.exit(0);
  }
  return { argv, has, opt };
}

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

module.exports = { cli, median };
