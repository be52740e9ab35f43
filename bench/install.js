#!/usr/bin/env node
'use strict';
// Install-footprint benchmark: `node install.js [--tarball PATH] [--rounds 3]
//   [--packages cycletls-native,impit,wreq-js] [--modes warm,cold] [--keep-work] [--report-from FILE]`
// Measures, the same way for every package: the platform binary it installs on linux-x64-gnu (and
// linux-arm64-gnu) raw and gzip-compressed, the download that carries it, the time of
// `npm install --no-audit --no-fund <spec>` into a fresh empty project (warm and cold npm cache,
// interleaved rounds, medians), the installed node_modules size and package count, and that the
// package loads its native addon afterwards. cycletls-native comes from a local tarball (`--tarball`,
// or `npm pack` of the repository root into .work/install/pack); the peers from the registry at the
// versions in this folder's package-lock.json. Writes RESULTS-install.md and results-install.json.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, execFileSync, spawnSync } = require('node:child_process');
const { cli, median } = require('./lib/cli');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '..');
const OURS = 'cycletls-native';
const PEERS = ['impit', 'wreq-js'];
const TAGS = ['linux-x64-gnu', 'linux-arm64-gnu']; // the platforms whose binaries are compared
const { argv, has, opt } = cli(__filename, 10);
const cfg = {
  rounds: Number(opt('rounds', 3)),
  packages: opt('packages', [OURS, ...PEERS].join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  modes: opt('modes', 'warm,cold')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  installTimeoutMs: Number(opt('install-timeout', 600)) * 1000,
};
for (const m of cfg.modes)
  if (m !== 'warm' && m !== 'cold') {
    console.error(`unknown mode ${m}; known: warm, cold`);
    process.exit(2);
  }
for (const p of cfg.packages)
  if (p !== OURS && !PEERS.includes(p)) {
    console.error(`unknown package ${p}; known: ${[OURS, ...PEERS].join(', ')}`);
    process.exit(2);
  }

const WORK = path.join(HERE, '.work', 'install');
const OUT_MD = path.join(HERE, 'RESULTS-install.md');
const OUT_JSON = path.join(HERE, 'results-install.json');
const log = (...a) => console.log(`[install ${new Date().toISOString().slice(11, 19)}]`, ...a);
// Nothing measured here may carry a host name into the committed results (npm errors quote URLs).
const scrub = (text) => String(text).replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s/'"]+/gi, '<url>');
const npmEnv = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};
const npm = (args, cwd, extra = {}) =>
  execFileSync('npm', args, {
    cwd,
    env: npmEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...extra,
  });

// What proves the package loaded its native addon: each one's smallest real use (ours starts and stops
// an engine; impit builds a client; wreq-js opens and closes a session), then a `.node` file from the
// project's own node_modules must be mapped into the process.
const LOAD_CHECK = {
  [OURS]: "const c = await require('cycletls-native')(); await c.exit();",
  impit: "new (require('impit').Impit)({ browser: 'chrome' });",
  'wreq-js': "await (await require('wreq-js').createSession({ browser: 'chrome' })).close();",
};
const loadScript = (body) => `(async () => { ${body}
  const nm = require('node:path').join(process.cwd(), 'node_modules') + '/';
  const mapped = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
    .map((l) => l.trim().split(/\\s+/)[5]).filter((f) => f && f.startsWith(nm) && f.endsWith('.node'));
  const files = [...new Set(mapped)].map((f) => f.slice(nm.length));
  console.log(JSON.stringify({ addons: files }));
  process.exit(files.length ? 0 : 3);
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });`;

function machineInfo() {
  let cpuModel = 'unknown';
  let distro = 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1].trim();
  } catch {}
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))[1];
  } catch {}
  return {
    cpuModel,
    cores: os.cpus().length,
    ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    distro,
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    node: process.version,
    npm: npm(['--version'], HERE).trim(),
  };
}

// The peer versions the main benchmark uses: the lockfile's, else package.json's range.
function peerSpecs() {
  let lock = {};
  try {
    lock = JSON.parse(fs.readFileSync(path.join(HERE, 'package-lock.json'), 'utf8')).packages || {};
  } catch {}
  const pj = JSON.parse(fs.readFileSync(path.join(HERE, 'package.json'), 'utf8'));
  const out = {};
  for (const name of PEERS) {
    const locked = lock[`node_modules/${name}`];
    out[name] = {
      version: locked ? locked.version : pj.dependencies[name],
      optionalDependencies: locked ? locked.optionalDependencies || {} : null,
    };
  }
  return out;
}

// Our tarball: the given one, or what `npm pack` makes of the repository root right now.
function ourTarball() {
  const given = opt('tarball');
  if (given) return { file: path.resolve(given), packedBy: 'given' };
  const dest = path.join(WORK, 'pack');
  fs.mkdirSync(dest, { recursive: true });
  log(`npm pack ${path.relative(process.cwd(), ROOT) || '.'} -> ${path.relative(process.cwd(), dest)}`);
  const info = JSON.parse(
    npm(['pack', '--json', '--pack-destination', dest], ROOT, { stdio: ['ignore', 'pipe', 'inherit'] }),
  )[0];
  return { file: path.join(dest, info.filename), packedBy: 'npm pack' };
}

function extract(tgz, into) {
  fs.rmSync(into, { recursive: true, force: true });
  fs.mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', into]);
  return path.join(into, 'package');
}

function findNodeFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findNodeFiles(p));
    else if (e.name.endsWith('.node')) out.push(p);
  }
  return out;
}

// One binary, measured the same way for everyone: raw bytes and `gzip -6` bytes (zlib's default level,
// the one npm's tarballs use), plus the size of the download that carries it on that platform.
function binaryRecord(pkg, tag, file, carrier, carrierBytes) {
  const buf = fs.readFileSync(file);
  return {
    package: pkg,
    tag,
    file: path.basename(file),
    rawBytes: buf.length,
    gzipBytes: zlib.gzipSync(buf).length,
    carrier,
    carrierBytes,
  };
}

function measureBinaries(tarball, peers, warmCache) {
  const rows = [];
  if (cfg.packages.includes(OURS)) {
    const pkgDir = extract(tarball.file, path.join(WORK, 'extract', OURS));
    const tgzBytes = fs.statSync(tarball.file).size;
    for (const tag of TAGS) {
      const file = path.join(pkgDir, 'prebuilds', tag, 'cycletls_native.node');
      rows.push(
        fs.existsSync(file)
          ? binaryRecord(
              OURS,
              tag,
              file,
              `${path.basename(tarball.file)} (the one package, all platforms)`,
              tgzBytes,
            )
          : { package: OURS, tag, missing: `no prebuilds/${tag}/cycletls_native.node in the tarball` },
      );
    }
  }
  for (const name of PEERS.filter((p) => cfg.packages.includes(p))) {
    const { version } = peers[name];
    let optional = peers[name].optionalDependencies;
    if (!optional)
      optional = JSON.parse(
        npm(['view', `${name}@${version}`, 'optionalDependencies', '--json'], HERE) || '{}',
      );
    for (const tag of TAGS) {
      const platPkg = Object.keys(optional).find((d) => d.endsWith(`-${tag}`));
      if (!platPkg) {
        rows.push({ package: name, tag, missing: `no optional dependency for ${tag}` });
        continue;
      }
      const dest = path.join(WORK, 'pack-peers', `${name}-${tag}`);
      fs.mkdirSync(dest, { recursive: true });
      let info;
      try {
        info = JSON.parse(
          npm(
            [
              'pack',
              '--json',
              '--cache',
              warmCache,
              '--pack-destination',
              dest,
              `${platPkg}@${optional[platPkg]}`,
            ],
            dest,
          ),
        )[0];
      } catch (err) {
        // e.g. a registry mirror that lacks this platform's package
        let why = String(err.message).split('\n')[0];
        try {
          why = JSON.parse(err.stdout).error.summary;
        } catch {}
        rows.push({
          package: name,
          tag,
          missing: `\`npm pack ${platPkg}@${optional[platPkg]}\` failed: ${scrub(why)}`,
        });
        continue;
      }
      const tgz = path.join(dest, info.filename);
      const nodes = findNodeFiles(extract(tgz, path.join(WORK, 'extract', `${name}-${tag}`)));
      rows.push(
        nodes.length === 1
          ? binaryRecord(name, tag, nodes[0], `${platPkg}@${optional[platPkg]}`, fs.statSync(tgz).size)
          : { package: name, tag, missing: `${platPkg} holds ${nodes.length} .node files` },
      );
    }
  }
  return rows;
}

// `du -sb`: apparent sizes of every file, directory and symlink, hard links once; also the allocated
// blocks (`du -s`). Packages: every folder under a node_modules that holds a package.json.
function diskUsage(dir) {
  const seen = new Set();
  let apparent = 0;
  let allocated = 0;
  const walk = (p) => {
    const st = fs.lstatSync(p, { bigint: false });
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    apparent += st.size;
    allocated += st.blocks * 512;
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return { apparentBytes: apparent, allocatedBytes: allocated };
}

function installedPackages(nodeModules) {
  const found = [];
  const visit = (nm) => {
    if (!fs.existsSync(nm)) return;
    for (const name of fs.readdirSync(nm)) {
      if (name.startsWith('.')) continue;
      const dirs = name.startsWith('@')
        ? fs.readdirSync(path.join(nm, name)).map((s) => path.join(name, s))
        : [name];
      for (const d of dirs) {
        const pj = path.join(nm, d, 'package.json');
        if (!fs.existsSync(pj)) continue;
        const { name: pname, version } = JSON.parse(fs.readFileSync(pj, 'utf8'));
        found.push(`${pname || d}@${version}`);
        visit(path.join(nm, d, 'node_modules'));
      }
    }
  };
  visit(nodeModules);
  return found.sort();
}

// Our tarball's size and what fills it: unpacked bytes per top-level entry of the package.
function tarballContents(tgz, pkgDir) {
  let files = 0;
  const count = (p) => {
    const st = fs.lstatSync(p);
    if (!st.isDirectory()) {
      files++;
      return st.size;
    }
    return fs.readdirSync(p).reduce((sum, e) => sum + count(path.join(p, e)), 0);
  };
  const parts = fs
    .readdirSync(pkgDir)
    .map((e) => ({ entry: e, unpackedBytes: count(path.join(pkgDir, e)) }))
    .sort((a, b) => b.unpackedBytes - a.unpackedBytes);
  return {
    file: path.basename(tgz),
    bytes: fs.statSync(tgz).size,
    files,
    unpackedBytes: parts.reduce((s, p) => s + p.unpackedBytes, 0),
    parts,
  };
}

function runNpmInstall(projDir, cacheDir, spec) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--cache', cacheDir, spec], {
      cwd: projDir,
      env: npmEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const keep = (d) => {
      out = (out + d).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const killer = setTimeout(() => child.kill('SIGKILL'), cfg.installTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
        code,
        signal,
        tail: scrub(out.trim().split('\n').slice(-5).join(' | ')),
      });
    });
  });
}

// One install of `name` into a fresh empty project, then its footprint and the load check.
async function installOnce(name, spec, mode, round, warmCache) {
  const projDir = path.join(WORK, 'projects', `${name}-${mode}-r${round}`);
  fs.rmSync(projDir, { recursive: true, force: true });
  fs.mkdirSync(projDir, { recursive: true });
  fs.writeFileSync(
    path.join(projDir, 'package.json'),
    JSON.stringify({ name: 'install-bench-project', version: '1.0.0', private: true }, null, 2) + '\n',
  );
  const cacheDir = mode === 'warm' ? warmCache : path.join(WORK, `cache-cold-${name}-r${round}`);
  if (mode === 'cold') fs.rmSync(cacheDir, { recursive: true, force: true });
  const res = await runNpmInstall(projDir, cacheDir, spec);
  const rec = { package: name, mode, round, ok: res.code === 0, seconds: res.ms / 1000 };
  if (!rec.ok) rec.error = `npm exited ${res.code ?? res.signal}: ${res.tail}`;
  const nm = path.join(projDir, 'node_modules');
  if (rec.ok && fs.existsSync(nm)) {
    Object.assign(rec, diskUsage(nm));
    rec.installed = installedPackages(nm);
    rec.packageCount = rec.installed.length;
    const check = spawnSync(process.execPath, ['-e', loadScript(LOAD_CHECK[name])], {
      cwd: projDir,
      encoding: 'utf8',
      timeout: 60000,
    });
    let addons = [];
    try {
      addons = JSON.parse(check.stdout.trim().split('\n').pop()).addons;
    } catch {}
    rec.load =
      check.status === 0
        ? { ok: true, addons }
        : {
            ok: false,
            error: scrub(
              `exit ${check.status ?? check.signal}: ${(check.stderr || check.stdout || '').trim().split('\n').slice(0, 3).join(' | ')}`,
            ),
          };
  }
  if (mode === 'cold' && !has('keep-work')) fs.rmSync(cacheDir, { recursive: true, force: true });
  if (!has('keep-work')) fs.rmSync(projDir, { recursive: true, force: true });
  return rec;
}

function summarize(records, binaries) {
  return cfg.packages.map((name) => {
    const mine = records.filter((r) => r.package === name);
    const ok = mine.filter((r) => r.ok);
    const times = {};
    for (const mode of cfg.modes) {
      const t = ok.filter((r) => r.mode === mode).map((r) => r.seconds);
      times[mode] = {
        median: median(t),
        min: t.length ? Math.min(...t) : NaN,
        max: t.length ? Math.max(...t) : NaN,
        ok: t.length,
        of: mine.filter((r) => r.mode === mode).length,
      };
    }
    const sized = ok.filter((r) => Number.isFinite(r.apparentBytes));
    const counts = [...new Set(sized.map((r) => r.packageCount))];
    const loads = ok.filter((r) => r.load);
    return {
      package: name,
      binaries: Object.fromEntries(binaries.filter((b) => b.package === name).map((b) => [b.tag, b])),
      times,
      nodeModulesBytes: median(sized.map((r) => r.apparentBytes)),
      nodeModulesAllocatedBytes: median(sized.map((r) => r.allocatedBytes)),
      packageCounts: counts,
      installed: sized.length ? sized[0].installed : [],
      loadOk: loads.filter((r) => r.load.ok).length,
      loadRuns: loads.length,
      loadedAddons: [...new Set(loads.flatMap((r) => (r.load.ok ? r.load.addons : [])))],
      loadErrors: [...new Set(loads.filter((r) => !r.load.ok).map((r) => r.load.error))],
      installErrors: [...new Set(mine.filter((r) => !r.ok).map((r) => r.error))],
    };
  });
}

const MB = (b) => (Number.isFinite(b) ? (b / 1e6).toFixed(2) : '—');
const sec = (s) => (Number.isFinite(s) ? s.toFixed(2) : '—');
const range = (t) =>
  t.ok
    ? `${sec(t.median)} (${sec(t.min)}–${sec(t.max)})${t.ok < t.of ? ` [${t.of - t.ok} failed]` : ''}`
    : `FAILED (0/${t.of})`;

function ratioLines(rows) {
  const ours = rows.find((r) => r.package === OURS);
  if (!ours) return ['- n/a (cycletls-native was not measured)'];
  const lines = [];
  const metrics = [
    [
      'linux-x64-gnu binary, gzip',
      (r) => r.binaries['linux-x64-gnu'] && r.binaries['linux-x64-gnu'].gzipBytes,
    ],
    ['linux-x64-gnu binary, raw', (r) => r.binaries['linux-x64-gnu'] && r.binaries['linux-x64-gnu'].rawBytes],
    ...cfg.modes.map((m) => [`install time, ${m} cache`, (r) => r.times[m].median]),
    ['node_modules size', (r) => r.nodeModulesBytes],
    ['packages installed', (r) => (r.packageCounts.length === 1 ? r.packageCounts[0] : NaN)],
  ];
  for (const peer of rows.filter((r) => r.package !== OURS)) {
    for (const [label, get] of metrics) {
      const a = get(ours);
      const b = get(peer);
      lines.push(
        Number.isFinite(a) && Number.isFinite(b) && b > 0
          ? `- ${label}: cycletls-native / ${peer.package} = **${(a / b).toFixed(2)}×**`
          : `- ${label}: cycletls-native / ${peer.package}: n/a`,
      );
    }
  }
  return lines;
}

function writeReport(meta, rows, records) {
  const m = meta.machine;
  const la = (l) => l.map((x) => x.toFixed(2)).join(' / ');
  const out = [];
  out.push('# Install footprint: cycletls-native vs impit and wreq-js', '');
  out.push(
    `Generated by \`bench/install.js\` on ${meta.finishedAt} (started ${meta.startedAt}, took ${(meta.durationMs / 1000).toFixed(0)} s). Command: \`${['node install.js', ...meta.argv].join(' ')}\`.`,
    '',
  );
  out.push(
    `- **Machine:** ${m.cpuModel}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.distro}, ${m.kernel} (${m.arch}), Node ${m.node}, npm ${m.npm}; load average (1/5/15 min) before ${la(meta.loadBefore)}, after ${la(meta.loadAfter)}.`,
  );
  out.push(`- **Packages:** ${rows.map((r) => `${r.package} ${meta.specs[r.package].label}`).join(', ')}.`);
  out.push(
    '- **Binaries:** the `.node` each package installs on linux-x64-gnu (and linux-arm64-gnu), taken from the tarball npm downloads for that platform: for cycletls-native `prebuilds/<platform>/cycletls_native.node` inside its one package tarball, for impit and wreq-js the `.node` inside their per-platform package (`npm pack <platform package>@<version>`). "gzip" = that file alone compressed with zlib at its default level 6 (as `gzip -6`; what npm tarballs use), the same for all; "download" = the whole tarball that carries it on that platform (ours carries every platform; theirs only one, next to a small main package).',
  );
  out.push(
    `- **Install:** \`npm install --no-audit --no-fund <spec>\` into a fresh empty project (a package.json only), wall time of the npm process; ${cfg.rounds} interleaved round(s) (package order rotated per round), medians (min–max). **warm** = a cache dir of this bench (\`--cache\`) primed by one untimed install of each package before the rounds; npm's own freshness rules still apply to package metadata (it may revalidate with the registry). **cold** = a new empty \`--cache\` dir for every install, so every tarball and all metadata come from the registry (for cycletls-native its dependencies; the package itself is the local tarball). Timing includes the package's install scripts, if any. The network is the machine's own: cold times depend on it.`,
  );
  out.push('- **Units:** MB = 10^6 bytes, s = seconds.');
  out.push(
    "- **node_modules:** `du -sb` of the project's node_modules (apparent sizes of files, directories and symlinks; hard links once) and, in results-install.json, the allocated blocks (`du -s`); packages = folders under any node_modules holding a package.json. **Load check:** after every install, `node -e` in the project runs each package's smallest real use (cycletls-native: start and `exit()` an engine; impit: `new Impit()`; wreq-js: open and close a session) and then requires a `.node` from the project's node_modules to be mapped into the process.",
  );
  if (meta.tarball) {
    const t = meta.tarball;
    out.push(
      `- **cycletls-native tarball:** ${t.file}, ${MB(t.bytes)} MB, ${t.files} files, ${MB(t.unpackedBytes)} MB unpacked (${t.parts.map((p) => `${p.entry} ${MB(p.unpackedBytes)}`).join(', ')} MB).`,
    );
  }
  if (meta.notes.length) out.push(...meta.notes.map((n) => `- **Note:** ${n}`));
  out.push('');
  out.push('## Platform binaries', '', "The issue's aim: under 6 MB compressed per platform binary.", '');
  out.push('| package | platform | file | raw MB | gzip MB | download (what carries it) | download MB |');
  out.push('|---|---|---|--:|--:|---|--:|');
  for (const r of rows) {
    for (const tag of TAGS) {
      const b = r.binaries[tag];
      if (!b) continue;
      out.push(
        b.missing
          ? `| ${r.package} | ${tag} | — | — | — | ${b.missing} | — |`
          : `| ${r.package} | ${tag} | ${b.file} | ${MB(b.rawBytes)} | ${MB(b.gzipBytes)} | ${b.carrier} | ${MB(b.carrierBytes)} |`,
      );
    }
  }
  out.push('', '## Install into an empty project', '');
  out.push(
    `| package | ${cfg.modes.map((mo) => `install s, ${mo} cache`).join(' | ')} | node_modules MB | packages | load check |`,
  );
  out.push(`|---|${'--:|'.repeat(cfg.modes.length + 2)}---|`);
  for (const r of rows) {
    out.push(
      `| ${r.package} | ${cfg.modes.map((mo) => range(r.times[mo])).join(' | ')} | ${MB(r.nodeModulesBytes)} | ${r.packageCounts.join(' / ') || '—'} | ${r.loadRuns ? `${r.loadOk}/${r.loadRuns} ok` : '—'} |`,
    );
  }
  out.push('', '## Ratios (medians)', '', ...ratioLines(rows), '');
  out.push('## What each install brought', '');
  for (const r of rows) {
    out.push(
      `- **${r.package}** (${r.installed.length}): ${r.installed.join(', ') || '—'}${r.loadedAddons.length ? `; addon loaded: ${r.loadedAddons.join(', ')}` : ''}`,
    );
  }
  const problems = rows.flatMap((r) => [
    ...r.installErrors.map((e) => `- ${r.package} install: ${e}`),
    ...r.loadErrors.map((e) => `- ${r.package} load check: ${e}`),
  ]);
  if (problems.length) out.push('', '## Failures', '', ...problems);
  out.push(
    '',
    '## Per-install seconds',
    '',
    `| package | mode | ${Array.from({ length: cfg.rounds }, (_, i) => `round ${i + 1}`).join(' | ')} |`,
    `|---|---|${'--:|'.repeat(cfg.rounds)}`,
  );
  for (const r of rows) {
    for (const mode of cfg.modes) {
      const cells = Array.from({ length: cfg.rounds }, (_, i) =>
        records.find((x) => x.package === r.package && x.mode === mode && x.round === i + 1),
      );
      out.push(
        `| ${r.package} | ${mode} | ${cells.map((c) => (!c ? '—' : c.ok ? sec(c.seconds) : 'fail')).join(' | ')} |`,
      );
    }
  }
  out.push(
    '',
    'Caveat: install times move with the network and the registry (cold more than warm) and with other jobs on the machine; compare packages within one run. Raw data: `results-install.json`.',
    '',
  );
  fs.writeFileSync(OUT_MD, out.join('\n'));
}

// `--report-from results-install.json`: rewrite RESULTS-install.md from stored records, no measuring.
function reportFrom(file) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(cfg, j.meta.config);
  const rows = summarize(j.records, j.binaries);
  j.summary = rows;
  fs.writeFileSync(file, JSON.stringify(j, null, 2) + '\n');
  writeReport(j.meta, rows, j.records);
  log(`rewrote ${path.relative(process.cwd(), OUT_MD)} from ${file}`);
}

async function main() {
  if (opt('report-from')) return reportFrom(opt('report-from'));
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  if (!has('keep-work')) fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const warmCache = path.join(WORK, 'cache-warm');
  const notes = [];
  const meta0 = {};

  const peers = peerSpecs();
  const specs = {};
  let tarball = null;
  if (cfg.packages.includes(OURS)) {
    tarball = ourTarball();
    const ourPkg = JSON.parse(
      fs.readFileSync(
        path.join(extract(tarball.file, path.join(WORK, 'extract', OURS)), 'package.json'),
        'utf8',
      ),
    );
    let git = '';
    try {
      const gitOut = (args) =>
        execFileSync('git', args, {
          cwd: ROOT,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim();
      const dirty = gitOut(['status', '--porcelain', '--untracked-files=no'])
        ? ', with uncommitted changes'
        : '';
      git = `, packed from git ${gitOut(['rev-parse', '--short', 'HEAD'])}${dirty}`;
    } catch {}
    specs[OURS] = {
      spec: tarball.file,
      label: `${ourPkg.version} (local tarball ${path.basename(tarball.file)}, ${tarball.packedBy}${tarball.packedBy === 'npm pack' ? git : ''})`,
    };
    meta0.tarball = tarballContents(tarball.file, path.join(WORK, 'extract', OURS, 'package'));
    const lifecycle = ['preinstall', 'install', 'postinstall'].filter(
      (s) => ourPkg.scripts && ourPkg.scripts[s],
    );
    if (lifecycle.length)
      notes.push(
        `cycletls-native's package.json has install-time scripts (${lifecycle.map((s) => `${s}: \`${ourPkg.scripts[s]}\``).join('; ')}); their time is part of its install time.`,
      );
  }
  for (const name of PEERS)
    specs[name] = { spec: `${name}@${peers[name].version}`, label: `${peers[name].version} (registry)` };

  log('measuring the platform binaries');
  const binaries = measureBinaries(tarball, peers, warmCache);
  for (const b of binaries)
    log(
      b.missing
        ? `${b.package} ${b.tag}: ${b.missing}`
        : `${b.package} ${b.tag}: ${MB(b.rawBytes)} MB raw, ${MB(b.gzipBytes)} MB gzip, download ${MB(b.carrierBytes)} MB`,
    );

  if (cfg.modes.includes('warm')) {
    log('priming the warm cache (one untimed install per package)');
    for (const name of cfg.packages) {
      const rec = await installOnce(name, specs[name].spec, 'warm', 0, warmCache);
      if (!rec.ok) log(`prime ${name} failed: ${rec.error}`);
    }
  }
  const records = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    const shift = (round - 1) % cfg.packages.length;
    const order = cfg.packages.slice(shift).concat(cfg.packages.slice(0, shift));
    for (const mode of cfg.modes) {
      for (const name of order) {
        const rec = await installOnce(name, specs[name].spec, mode, round, warmCache);
        records.push(rec);
        log(
          rec.ok
            ? `r${round} ${mode} ${name.padEnd(16)} ${sec(rec.seconds)} s  node_modules ${MB(rec.apparentBytes)} MB  ${rec.packageCount} packages  load ${rec.load && rec.load.ok ? 'ok' : `FAILED ${rec.load && rec.load.error}`}`
            : `r${round} ${mode} ${name.padEnd(16)} FAILED ${rec.error}`,
        );
      }
    }
  }
  const finishedAt = new Date();
  const meta = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt - startedAt,
    machine: machineInfo(),
    loadBefore,
    loadAfter: os.loadavg(),
    config: cfg,
    argv,
    notes,
    ...meta0,
    specs: Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, { label: v.label }])),
  };
  const rows = summarize(records, binaries);
  fs.writeFileSync(OUT_JSON, JSON.stringify({ meta, summary: rows, binaries, records }, null, 2) + '\n');
  writeReport(meta, rows, records);
  log(
    `wrote ${path.relative(process.cwd(), OUT_MD)} and ${path.relative(process.cwd(), OUT_JSON)} in ${(meta.durationMs / 1000).toFixed(0)} s`,
  );
  console.log('\n' + fs.readFileSync(OUT_MD, 'utf8'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
