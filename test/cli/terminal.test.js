// The progress bar as a person sees it: the command runs in a real terminal (tmux, a private server on
// its own socket) downloading with -o from a local server that sends half the body and then waits; the
// test reads the screen (capture-pane) until the bar shows that half, lets the server finish, and reads
// the final 100% line. No timing is asserted: the waits only bound how long a broken bar may take to fail.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startServer, patternBytes, sha256 } = require('../helpers/servers');
const { BIN } = require('./helpers');

const TOTAL = 4 * 1024 * 1024;
const tmuxMissing = spawnSync('tmux', ['-V']).error !== undefined;
// tmux exists wherever the project's tests run (scripts/install-deps.sh installs it in a clone); only a
// platform without it (Windows) skips, and says so.
const cannotHaveTmux = process.platform === 'win32';
if (cannotHaveTmux) {
  console.warn('terminal.test.js skipped: tmux does not exist on Windows');
}
const maybe = cannotHaveTmux ? test.skip : test;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, check, limitMs = 30000) {
  const until = Date.now() + limitMs;
  for (;;) {
    const got = check();
    if (got) return got;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

maybe('-o shows a progress bar on a terminal, as curl does, and the file is complete', async () => {
  if (tmuxMissing)
    throw new Error('tmux is not installed: run scripts/install-deps.sh (it installs tmux in a clone)');
  const body = patternBytes(TOTAL, 3);
  let release;
  const released = new Promise((resolve) => (release = resolve));
  const server = await startServer({
    handler: async (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': TOTAL });
      res.write(body.subarray(0, TOTAL / 2));
      await released;
      res.end(body.subarray(TOTAL / 2));
    },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-tty-'));
  const socket = path.join(dir, 'tmux.sock');
  const out = path.join(dir, 'download.bin');
  const rcFile = path.join(dir, 'rc');
  const tmux = (...args) => spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'cli').stdout ?? '';
  try {
    const command = [
      `SSL_CERT_FILE='${process.env.SSL_CERT_FILE}'`,
      `'${process.execPath}' '${BIN}' -o '${out}' '${server.url('/big')}'`,
      // The shell stays a while, so the screen keeps the last frame to read (kill-server ends it).
      `; echo $? > '${rcFile}'; sleep 120`,
    ].join(' ');
    const started = tmux('new-session', '-d', '-s', 'cli', '-x', '120', '-y', '10', command);
    expect(started.status).toBe(0);

    const half = await waitFor('the bar at 50%', () => {
      const line = screen()
        .split('\n')
        .find((l) => l.includes('%'));
      return line && line.includes(' 50.0% [') ? line : undefined;
    });
    expect(half).toMatch(/^ 50\.0% \[#{15}-{15}\] 2\.00 MiB \/ 4\.00 MiB {2}\S+ \S+\/s {2}ETA \S+/);

    release();
    await waitFor(
      'the command to end',
      () => fs.existsSync(rcFile) && fs.readFileSync(rcFile, 'utf8').trim(),
    );
    expect(fs.readFileSync(rcFile, 'utf8').trim()).toBe('0');
    const done = screen()
      .split('\n')
      .find((l) => l.includes('%'));
    expect(done).toMatch(/^100\.0% \[#{30}\] 4\.00 MiB \/ 4\.00 MiB/);
    expect(sha256(fs.readFileSync(out))).toBe(sha256(body));
  } finally {
    release();
    tmux('kill-server');
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

maybe(
  'binary output to a terminal is refused with exit 23, as curl refuses it; "-o -" writes it anyway',
  async () => {
    if (tmuxMissing)
      throw new Error('tmux is not installed: run scripts/install-deps.sh (it installs tmux in a clone)');
    const server = await startServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctn-tty-'));
    const socket = path.join(dir, 'tmux.sock');
    const tmux = (...args) => spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
    const run = async (name, extra) => {
      const rcFile = path.join(dir, `${name}.rc`);
      const command = [
        `SSL_CERT_FILE='${process.env.SSL_CERT_FILE}'`,
        `'${process.execPath}' '${BIN}' ${extra} '${server.url('/bytes?n=64')}'`,
        `; echo $? > '${rcFile}'; sleep 120`,
      ].join(' ');
      expect(tmux('new-session', '-d', '-s', name, '-x', '150', '-y', '10', command).status).toBe(0);
      await waitFor(`${name} to end`, () => fs.existsSync(rcFile) && fs.readFileSync(rcFile, 'utf8').trim());
      return {
        rc: fs.readFileSync(rcFile, 'utf8').trim(),
        screen: tmux('capture-pane', '-p', '-t', name).stdout,
      };
    };
    try {
      const refused = await run('refused', '');
      expect(refused.rc).toBe('23');
      expect(refused.screen).toContain('cycletls-native: (23) Binary output can mess up your terminal.');
      expect((await run('forced', '-o -')).rc).toBe('0');
    } finally {
      tmux('kill-server');
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
