'use strict';
// The addon keeps its static BoringSSL (and compression libraries) to itself: nothing of them is
// exported or dynamically linked, and Node's own OpenSSL-based crypto, https and tls keep working
// in the same process, before, after and alongside our engine.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { startServer } = require('../helpers/servers');
const { ROOT, runScript, killAll, describe: show } = require('./spawn');

const ADDON = path.join(ROOT, 'build', 'Release', 'cycletls_native.node');
const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
const FORBIDDEN =
  /^(SSL_|EVP_|BIO_|CRYPTO_|OPENSSL_|X509_|ERR_|nghttp2_|Brotli|ZSTD_|deflate|inflate|_ZN4bssl|_ZN3ctn)/;
const FORBIDDEN_LIBS = /lib(ssl|crypto|nghttp2|z|brotli\w*|zstd)\.so/;

function tool(name, args) {
  try {
    return {
      out: execFileSync(name, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 20000 }),
    };
  } catch (err) {
    if (err.code === 'ENOENT') return { missing: true };
    throw err;
  }
}

/** `nm -D --defined-only`: [{ type, name }] of the exported (dynamic) symbols. */
function exportedSymbols() {
  const r = tool('nm', ['-D', '--defined-only', ADDON]);
  if (r.missing) return null;
  return r.out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.trim().split(/\s+/);
      return { type: parts[parts.length - 2], name: parts[parts.length - 1] };
    });
}

const haveNm = tool('nm', ['--version']).missing !== true;
const haveReadelf = tool('readelf', ['--version']).missing !== true;
if (!haveNm || !haveReadelf) {
  // binutils come with g++, which the build needs; without them the symbol checks cannot run.
  console.warn(
    `isolation.test.js: skipping the ELF checks: ${!haveNm ? 'nm' : ''} ${!haveReadelf ? 'readelf' : ''} not found (install binutils)`,
  );
}
const elfTest = haveNm && haveReadelf ? test : test.skip;

describe('symbol isolation of the .node', () => {
  elfTest(
    'exports no BoringSSL, nghttp2, Brotli, zstd or zlib symbol; only the N-API entry points are strong exports',
    () => {
      const symbols = exportedSymbols();
      const list = symbols.map((s) => `${s.type} ${s.name}`).join('\n');
      const forbidden = symbols.filter((s) => FORBIDDEN.test(s.name));
      if (forbidden.length)
        throw new Error(
          `forbidden exports:\n${forbidden.map((s) => s.name).join('\n')}\n\nall exports:\n${list}`,
        );
      const names = symbols.map((s) => s.name);
      if (!names.includes('napi_register_module_v1'))
        throw new Error(`napi_register_module_v1 is not exported:\n${list}`);
      // Everything else must be C++ vague-linkage data (weak "V"/"W" or unique "u": template statics,
      // typeinfo): no strong function or object of ours or of a static library leaves the .node.
      const others = symbols.filter((s) => !ENTRY_POINTS.includes(s.name));
      const unexpected = others.filter((s) => !(/^[VWu]$/.test(s.type) && s.name.startsWith('_Z')));
      if (unexpected.length)
        throw new Error(
          `unexpected exports:\n${unexpected.map((s) => `${s.type} ${s.name}`).join('\n')}\n\nall exports:\n${list}`,
        );
      // A handful: a bound that a leaking static library would blow through at once.
      if (symbols.length > 64) throw new Error(`${symbols.length} exports, expected a handful:\n${list}`);
    },
  );

  elfTest(
    'the weak C++ exports cannot be interposed: -Bsymbolic, and no dynamic relocation names them',
    () => {
      const dyn = tool('readelf', ['-d', '-W', ADDON]).out;
      const weak = exportedSymbols()
        .filter((s) => !ENTRY_POINTS.includes(s.name))
        .map((s) => s.name);
      if (weak.length === 0) return;
      expect(dyn).toMatch(/\(FLAGS\)\s+.*SYMBOLIC|\(SYMBOLIC\)/);
      const relocs = tool('readelf', ['-r', '-W', ADDON]).out;
      const named = weak.filter((n) => relocs.includes(n));
      if (named.length)
        throw new Error(
          `dynamic relocations resolve these by name (a copy elsewhere could win):\n${named.join('\n')}`,
        );
    },
  );

  elfTest(
    'imports no BoringSSL / zlib / Brotli / zstd function from the process (Node exports OpenSSL and zlib)',
    () => {
      const r = tool('nm', ['-D', '--undefined-only', ADDON]).out;
      const undef = r
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const parts = line.trim().split(/\s+/);
          return { type: parts[0], name: parts[1].replace(/@.*$/, '') };
        });
      // A strong undefined reference would bind to Node's own OpenSSL / zlib at load time.
      const strong = undef.filter((s) => s.type === 'U' && FORBIDDEN.test(s.name));
      if (strong.length)
        throw new Error(`imports bound by the process: ${strong.map((s) => s.name).join(', ')}`);
      // Weak undefined hooks of the static libraries (BoringSSL's allocator override, zstd's tracing)
      // resolve against the process's global scope: whatever defines them there takes them over.
      // Known and listed here; in this Node nothing defines them, so the libraries keep their own.
      const weakHooks = undef
        .filter((s) => s.type === 'w' && FORBIDDEN.test(s.name))
        .map((s) => s.name)
        .sort();
      const KNOWN = [
        'OPENSSL_memory_alloc',
        'OPENSSL_memory_free',
        'OPENSSL_memory_get_size',
        'ZSTD_trace_decompress_begin',
        'ZSTD_trace_decompress_end',
      ];
      const unknown = weakHooks.filter((n) => !KNOWN.includes(n));
      if (unknown.length)
        throw new Error(`new weak undefined references to library symbols: ${unknown.join(', ')}`);
      const nodeExports = tool('nm', ['-D', '--defined-only', process.execPath]);
      if (!nodeExports.missing) {
        const defined = new Set(nodeExports.out.split('\n').map((l) => l.trim().split(/\s+/).pop()));
        const hijacked = weakHooks.filter((n) => defined.has(n));
        if (hijacked.length)
          throw new Error(
            `${process.execPath} defines ${hijacked.join(', ')}: our static libraries would use the process's`,
          );
      }
    },
  );

  elfTest('links no libssl, libcrypto, libnghttp2, libz, libbrotli or libzstd dynamically', () => {
    const dyn = tool('readelf', ['-d', '-W', ADDON]).out;
    const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    expect(needed.length).toBeGreaterThan(0);
    const bad = needed.filter((lib) => FORBIDDEN_LIBS.test(lib));
    if (bad.length) throw new Error(`dynamic dependencies on ${bad.join(', ')}; all: ${needed.join(', ')}`);
    const ldd = tool('ldd', [ADDON]);
    if (!ldd.missing) {
      const resolved = ldd.out
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0])
        .filter(Boolean);
      const badResolved = resolved.filter((lib) => FORBIDDEN_LIBS.test(lib));
      if (badResolved.length) throw new Error(`ldd lists ${badResolved.join(', ')}:\n${ldd.out}`);
    }
  });
});

describe("Node's own crypto, https and tls in the same process", () => {
  let server;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    killAll();
    await server.close();
  });

  test.each([
    ['ours-first', ['ours 1 ok', 'node:crypto 1 ok', 'node:https 1 ok', 'node:tls 1 ok', 'ours 2 ok']],
    [
      'node-first',
      [
        'node:crypto 1 ok',
        'node:https 1 ok',
        'node:tls 1 ok',
        'ours 1 ok',
        'node:crypto 2 ok',
        'node:https 2 ok',
        'node:tls 2 ok',
      ],
    ],
    ['concurrent', ['ours warm ok', 'node:crypto after ok', 'concurrent ok']],
  ])('%s', async (order, steps) => {
    const r = await runScript('node-crypto-interop.js', [order, server.origin], { timeoutMs: 30000 });
    if (r.code !== 0 || r.signal || !/^OK$/m.test(r.stdout))
      throw new Error(`node-crypto-interop.js ${order} failed: ${show(r)}`);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => steps.find((s) => l.startsWith(s)) || l)).toEqual([...steps, 'OK']);
    expect(r.stderr).toBe('');
  });
});
