#!/usr/bin/env node
// What a prebuilt addon asks of the machine that loads it, read from its dynamic section and dynamic
// symbol table (binutils' readelf, which reads every architecture's ELF): the libraries it needs,
// the symbol versions it needs from each, and the symbols it exports. `checkPortable` says what
// breaks the promise of a prebuilt binary: a glibc symbol version above the floor (2.31: Debian 11,
// Ubuntu 20.04, RHEL 9), a library other than the C library's own (libstdc++ and libgcc_s must be
// linked in), or an exported symbol other than the two Node-API entry points.
//
// usage: elf-check.js <file.node> [x86_64-linux-gnu|aarch64-linux-gnu]   (prints the report as JSON)
'use strict';
const { execFileSync } = require('node:child_process');

const PORTABLE_GLIBC = '2.31';

/** Libraries a portable .node may need: glibc's own, nothing else. */
const ALLOWED_NEEDED = {
  'x86_64-linux-gnu': [
    'libc.so.6',
    'libm.so.6',
    'libpthread.so.0',
    'libdl.so.2',
    'librt.so.1',
    'ld-linux-x86-64.so.2',
  ],
  'aarch64-linux-gnu': [
    'libc.so.6',
    'libm.so.6',
    'libpthread.so.0',
    'libdl.so.2',
    'librt.so.1',
    'ld-linux-aarch64.so.1',
  ],
};

/** What the linker's version script lets out (native/binding/exports.map). */
const ALLOWED_EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

const ELF_MACHINE = { 'x86_64-linux-gnu': 'Advanced Micro Devices X86-64', 'aarch64-linux-gnu': 'AArch64' };

function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * The dynamic facts of an ELF file: { machine, needed: [lib], versionNeeds: [{ file, version }],
 * imports: [{ name, version }], exports: [name] }.
 */
function readDynamic(file) {
  const text = execFileSync('readelf', ['-W', '-h', '-d', '-V', '--dyn-syms', file], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const machine = /^\s*Machine:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? '';
  const needed = [...text.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const versionNeeds = [];
  const needsSection = /Version needs section '\.gnu\.version_r'[\s\S]*?(?=\n\S|\n*$)/.exec(text)?.[0] ?? '';
  let current = '';
  for (const line of needsSection.split('\n')) {
    const fileMatch = /File: (\S+)/.exec(line);
    if (fileMatch) {
      current = fileMatch[1];
      continue;
    }
    const nameMatch = /Name: (\S+)/.exec(line);
    if (nameMatch) versionNeeds.push({ file: current, version: nameMatch[1] });
  }
  const imports = [];
  const exports = [];
  const symtab = /Symbol table '\.dynsym'[\s\S]*?(?=\n\n|$)/.exec(text)?.[0] ?? '';
  for (const line of symtab.split('\n')) {
    // Num: Value Size Type Bind Vis Ndx Name
    const m = /^\s*\d+:\s+[0-9a-f]+\s+\S+\s+(\w+)\s+(\w+)\s+(\w+)\s+(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, type, bind, , ndx, fullName] = m;
    const [name, version] = fullName.split(/@+/);
    if (ndx === 'UND') {
      if (name) imports.push({ name, version: version?.replace(/\s*\(\d+\)$/, '') });
    } else if ((bind === 'GLOBAL' || bind === 'WEAK') && type !== 'SECTION' && name) {
      exports.push(name);
    }
  }
  return { machine, needed, versionNeeds, imports, exports };
}

/** { problems: [text], newestGlibc, needed, ... } for a .node meant to load on glibc >= 2.31. */
function checkPortable(file, triplet = 'x86_64-linux-gnu') {
  const facts = readDynamic(file);
  const problems = [];
  if (ELF_MACHINE[triplet] && facts.machine !== ELF_MACHINE[triplet]) {
    problems.push(`built for "${facts.machine}", expected ${ELF_MACHINE[triplet]} (${triplet})`);
  }
  const allowed = ALLOWED_NEEDED[triplet] ?? [];
  for (const lib of facts.needed)
    if (!allowed.includes(lib))
      problems.push(`needs ${lib} (only the C library's own are allowed: ${allowed.join(', ')})`);
  let newestGlibc = '0';
  for (const { file: lib, version } of facts.versionNeeds) {
    if (!allowed.includes(lib)) continue; // the library itself is already the problem
    const m = /^GLIBC_(\d+(?:\.\d+)*)$/.exec(version);
    if (!m) {
      if (!/^GLIBC_PRIVATE$/.test(version)) problems.push(`needs symbol version ${version} of ${lib}`);
      else problems.push(`needs GLIBC_PRIVATE of ${lib}`);
      continue;
    }
    if (compareVersions(m[1], newestGlibc) > 0) newestGlibc = m[1];
    if (compareVersions(m[1], PORTABLE_GLIBC) > 0) {
      const users = facts.imports.filter((s) => s.version === version).map((s) => s.name);
      problems.push(
        `needs ${version} of ${lib} (newer than ${PORTABLE_GLIBC}) for ${users.join(', ') || '?'}`,
      );
    }
  }
  for (const name of facts.exports) if (!ALLOWED_EXPORTS.includes(name)) problems.push(`exports ${name}`);
  for (const name of ALLOWED_EXPORTS.slice(0, 1))
    if (!facts.exports.includes(name)) problems.push(`does not export ${name}`);
  return { problems, newestGlibc, ...facts };
}

module.exports = {
  PORTABLE_GLIBC,
  ALLOWED_NEEDED,
  ALLOWED_EXPORTS,
  readDynamic,
  checkPortable,
  compareVersions,
};

if (require.main === module) {
  const [file, triplet] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: elf-check.js <file.node> [x86_64-linux-gnu|aarch64-linux-gnu]\n');
    process.exit(2);
  }
  const report = checkPortable(file, triplet);
  const { imports, ...brief } = report;
  process.stdout.write(`${JSON.stringify({ ...brief, imports: imports.length }, null, 2)}\n`);
  process.exit(report.problems.length ? 1 : 0);
}
