// The `cycletls-native` (alias `ctn`) command: curl's options on initCycleTLS. Each URL is one request
// through the public API with `rejectOnError` and a streamed response, so a download goes to its file
// with back-pressure down to the socket; failures end with curl's exit code (exit-codes.ts).
import { Buffer } from 'node:buffer';
import * as dns from 'node:dns';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { CookieJar } from 'tough-cookie';

import { initCycleTLS } from '../client';
import { CycleTLSError, isErrorCode } from '../errors';
import { loadAddon, nativeBinding, nativeConstants } from '../native';
import type { CycleTLSResponseShape } from '../response';
import { parseArgs, USAGE, UsageError } from './args';
import type { CliOptions } from './args';
import { formatCookieFile, loadCookieFile } from './cookie-file';
import { CliFailure, EXIT, exitCodeFor } from './exit-codes';
import { startProgress } from './progress';
import {
  cookieStrings,
  parseUrl,
  proxyUrl,
  readInput,
  requestData,
  requestForm,
  requestHeaders,
} from './request-input';
import { offerLines, probeWire, requestHeadLines } from './verbose';
import type { WriteOutVars } from './write-out';
import { formatWriteOut } from './write-out';

const NAME = 'cycletls-native';

export interface CliIo {
  stdout: NodeJS.WriteStream | Writable;
  stderr: NodeJS.WriteStream | Writable;
  stdin: Readable;
}

/** 'HTTP/2 200' or 'HTTP/1.1 200 OK', as curl writes a status line. */
function statusLine(httpVersion: string, status: number, statusText: string): string {
  if (httpVersion.startsWith('2') || httpVersion.startsWith('3')) return `HTTP/${httpVersion[0]} ${status}`;
  return `HTTP/${httpVersion} ${status}${statusText ? ` ${statusText}` : ''}`;
}

function headText(httpVersion: string, status: number, statusText: string, raw: readonly string[]): string {
  let s = `${statusLine(httpVersion, status, statusText)}\r\n`;
  for (let i = 0; i + 1 < raw.length; i += 2) s += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/** curl's http_version: '1.1', '2', '3'. */
function shortVersion(httpVersion: string): string {
  return httpVersion.replace(/\.0$/, '') || '0';
}

/** Writes and waits; a failing destination (a closed pipe, a full disk) is curl's write error, 23. */
function write(stream: CliIo['stdout'], text: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err?: Error | null) =>
      err
        ? reject(new CliFailure(EXIT.writeError, `Failure writing output to destination: ${err.message}`))
        : resolve(),
    );
  });
}

/** The file name of -O: the URL's last path segment (curl refuses an empty one). */
function remoteName(url: URL): string {
  const base = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  if (base === '' || base === '.' || base === '..')
    throw new CliFailure(EXIT.writeError, `Remote file name has no length: ${url.href}`);
  return base;
}

interface Transfer {
  url: URL;
  output?: string;
}

/** Pairs URLs with -o/-O in order (curl's rule: the n-th output option goes with the n-th URL). */
function transfers(opts: CliOptions): Transfer[] {
  const list: Transfer[] = [];
  let nextOutput = 0;
  let remotes = opts.remoteNames;
  for (const raw of opts.urls) {
    const url = parseUrl(raw);
    let output: string | undefined;
    if (nextOutput < opts.outputs.length) output = opts.outputs[nextOutput++];
    else if (remotes > 0) {
      remotes--;
      output = remoteName(url);
    }
    list.push({ url, output });
  }
  return list;
}

type CycleResponseHead = CycleTLSResponseShape;

type RequestFn = (
  url: string,
  options: Record<string, unknown>,
  method: string,
) => Promise<CycleResponseHead>;

/** --json: cycletls's response shape, the body as JSON when it parses, else text, else base64. */
function jsonShape(res: CycleResponseHead, body: Buffer): Record<string, unknown> {
  let data: unknown;
  let dataEncoding: string | undefined;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    try {
      data = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      data = body.toString('base64');
      dataEncoding = 'base64';
    }
  }
  return {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
    data,
    ...(dataEncoding ? { dataEncoding } : {}),
    finalUrl: res.finalUrl,
    requestId: res.requestId,
    httpVersion: res.httpVersion,
    protocol: res.protocol,
    tls: res.tls,
    redirects: res.redirects,
  };
}

function errorMessage(err: CycleTLSError): string {
  return `${err.message} [${err.code}]`;
}

async function lookupRemote(url: URL, proxy: string | undefined): Promise<{ ip: string; port: number }> {
  const target = proxy ? new URL(proxy) : url;
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port =
    Number(target.port) ||
    (target.protocol === 'https:' ? 443 : target.protocol.startsWith('socks') ? 1080 : 80);
  try {
    const { address } = await dns.promises.lookup(host);
    return { ip: address, port };
  } catch {
    return { ip: '', port };
  }
}

/**
 * --list-profiles: each preset with its aliases and user agent; with -v also its JA4 and Akamai string,
 * from a request with that preset replayed to the local echo server (as -v does) for https://localhost/.
 */
async function listProfiles(io: CliIo, verbose: boolean): Promise<void> {
  const addon = loadAddon();
  const aliases = new Map<string, string[]>();
  const ids = addon.info.profiles.filter((p) => /_\d+$/.test(p));
  for (const alias of addon.info.profiles.filter((p) => !/_\d+$/.test(p))) {
    // An alias names the newest preset of its family: the one whose user agent it shares.
    const ua = JSON.stringify(addon.profileHeaders(alias, 'http1'));
    const target = ids.find((id) => JSON.stringify(addon.profileHeaders(id, 'http1')) === ua);
    if (target) aliases.set(target, [...(aliases.get(target) ?? []), alias]);
  }
  const cycle = verbose
    ? await initCycleTLS({ shareAcrossProcesses: false, rejectOnError: true })
    : undefined;
  const client = cycle as unknown as { exit(): Promise<unknown> } | undefined;
  const request = cycle as unknown as RequestFn;
  for (const id of ids) {
    const headers = addon.profileHeaders(id, 'http1') ?? [];
    const uaIndex = headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'user-agent');
    const names = [id, ...(aliases.get(id) ?? [])].join(', ');
    const mark = id === addon.info.defaultProfile ? ' (default)' : '';
    io.stdout.write(`${names}${mark}\n    ${uaIndex >= 0 ? headers[uaIndex + 1] : ''}\n`);
    if (!verbose) continue;
    const view = await probeWire(request, {
      url: new URL('https://localhost/'),
      method: 'GET',
      options: { profile: id },
      jarCookies: '',
    });
    io.stdout.write(`    JA4 ${view.ja4}  Akamai ${view.akamai}\n`);
  }
  await client?.exit();
}

function versionText(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const addon = loadAddon();
  const binding = nativeBinding();
  return [
    `${NAME} ${pkg.version} (node ${process.versions.node}; ${binding.platform}; addon: ${binding.source})`,
    `TLS: BoringSSL (API ${addon.info.boringsslApiVersion}); HTTP/2: nghttp2; ` +
      `default profile: ${addon.info.defaultProfile}`,
    'Protocols: http https',
    `Features: HTTP2 alt-svc brotli zstd libz proxy socks ${addon.info.profiles.length} browser presets`,
    '',
  ].join('\n');
}

interface RunContext {
  opts: CliOptions;
  io: CliIo;
  request: RequestFn;
  jar?: CookieJar;
  baseOptions: Record<string, unknown>;
  method: string;
  body?: Buffer;
  say: (message: string) => void;
}

async function runTransfer(ctx: RunContext, transfer: Transfer): Promise<number> {
  const { opts, io } = ctx;
  let url = transfer.url;
  if (opts.get && ctx.body) {
    url = new URL(url.href);
    url.search = url.search
      ? `${url.search}&${ctx.body.toString('latin1')}`
      : `?${ctx.body.toString('latin1')}`;
  }
  const body = opts.get ? undefined : ctx.body;
  const options: Record<string, unknown> = {
    ...ctx.baseOptions,
    responseType: opts.json ? 'arraybuffer' : 'stream',
  };
  if (body !== undefined) options.body = body;
  const jarCookies = ctx.jar ? await ctx.jar.getCookieString(url.href) : '';
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const vars: WriteOutVars = {
    http_code: 0,
    http_version: '0',
    size_download: 0,
    size_header: 0,
    size_upload: body?.length ?? 0,
    time_namelookup: 0,
    time_connect: 0,
    time_appconnect: 0,
    time_pretransfer: 0,
    time_starttransfer: 0,
    time_redirect: 0,
    time_total: 0,
    speed_download: 0,
    url: transfer.url.href,
    url_effective: url.href,
    num_redirects: 0,
    num_headers: 0,
    content_type: '',
    remote_ip: '',
    remote_port: 0,
    scheme: url.protocol.slice(0, -1),
    method: ctx.method,
    filename_effective: transfer.output ?? '',
    exitcode: 0,
    errormsg: '',
    ssl_verify_result: 0,
    tls_version: '',
    tls_cipher: '',
    alpn: '',
  };
  let rawHeaders: string[] = [];
  let exitCode: number = EXIT.ok;
  const verbose = (lines: string[]): void => {
    if (opts.verbose) io.stderr.write(`${lines.join('\n')}\n`);
  };
  /** The first flight and request head as sent (verbose.ts), around what the server chose. */
  const showWire = async (protocol: string | undefined, negotiated: string[]): Promise<void> => {
    if (!opts.verbose) return;
    const via = ctx.baseOptions.proxy ? ` via proxy ${String(ctx.baseOptions.proxy)}` : '';
    verbose([`* Connecting to ${url.host}${via}`]);
    try {
      const view = await probeWire(ctx.request, { url, method: ctx.method, options, jarCookies, protocol });
      verbose([...offerLines(view), ...negotiated, ...requestHeadLines(view, url, ctx.method)]);
    } catch (err) {
      verbose([...negotiated, `* (the request as sent could not be replayed: ${(err as Error).message})`]);
    }
  };
  let res: CycleResponseHead | undefined;
  try {
    res = await ctx.request(url.href, options, ctx.method);
    vars.time_starttransfer = elapsed();
    rawHeaders = res.rawHeaders;
    Object.assign(vars, {
      http_code: res.status,
      http_version: shortVersion(res.httpVersion),
      url_effective: res.finalUrl,
      num_redirects: res.redirects,
      num_headers: rawHeaders.length / 2,
      content_type: res.headers['Content-Type']?.[0] ?? '',
      tls_version: res.tls?.version ?? '',
      tls_cipher: res.tls?.cipher ?? '',
      alpn: res.protocol,
    });
    const head = headText(res.httpVersion, res.status, res.statusText, rawHeaders);
    vars.size_header = Buffer.byteLength(head);
    const negotiated = res.tls
      ? [
          `* SSL connection using ${res.tls.version} / ${res.tls.cipher}`,
          `* ALPN: server accepted ${res.tls.alpn || 'nothing'}`,
        ]
      : [];
    await showWire(res.protocol, negotiated);
    if (res.redirects > 0) verbose([`* Followed ${res.redirects} redirect(s) to ${res.finalUrl}`]);
    verbose([
      ...head
        .trimEnd()
        .split('\r\n')
        .map((l) => `< ${l}`),
      '<',
    ]);
    if (opts.dumpHeader) {
      if (opts.dumpHeader === '-') await write(io.stdout, head);
      else {
        try {
          fs.writeFileSync(opts.dumpHeader, head);
        } catch (err) {
          throw new CliFailure(
            EXIT.writeError,
            `Failed to write ${opts.dumpHeader}: ${(err as Error).message}`,
          );
        }
      }
    }
    const httpFailed = (opts.fail || opts.failWithBody) && res.status >= 400;
    if (httpFailed && !opts.failWithBody) {
      (res.data as Readable | undefined)?.destroy?.();
      throw new CliFailure(EXIT.httpError, `The requested URL returned error: ${res.status}`);
    }
    if (opts.json) {
      const bodyBytes = Buffer.from(res.data as ArrayBuffer);
      vars.size_download = bodyBytes.length;
      await write(io.stdout, `${JSON.stringify(jsonShape(res, bodyBytes), null, 2)}\n`);
    } else {
      const out: Writable =
        transfer.output && transfer.output !== '-' ? fs.createWriteStream(transfer.output) : io.stdout;
      // -i/-I: the head goes where the body goes (the -o file too), as in curl.
      if (opts.include || opts.head) out.write(head);
      const contentLength = Number(res.headers['Content-Length']?.[0] ?? 0);
      const encoded = (res.headers['Content-Encoding']?.[0] ?? 'identity') !== 'identity' && opts.compressed;
      const progress =
        transfer.output && transfer.output !== '-' && opts.progress && !opts.silent && !opts.verbose
          ? startProgress(io.stderr as NodeJS.WriteStream, encoded ? 0 : contentLength)
          : undefined;
      const stream = res.data as Readable;
      const writeFailed = (err: Error): CliFailure =>
        new CliFailure(EXIT.writeError, `Failure writing output to destination: ${err.message}`);
      let outError: Error | undefined;
      out.on('error', (err: Error) => {
        outError = err;
        stream.destroy(err);
      });
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (
            vars.size_download === 0 &&
            transfer.output === undefined &&
            (out as NodeJS.WriteStream).isTTY &&
            chunk.includes(0)
          ) {
            stream.destroy();
            throw new CliFailure(
              EXIT.writeError,
              'Binary output can mess up your terminal. Use "--output -" to write it to your terminal ' +
                'anyway, or "--output <file>" to save it.',
            );
          }
          vars.size_download += chunk.length;
          progress?.update(vars.size_download);
          if (!out.write(chunk)) await once(out, 'drain');
        }
        if (out !== io.stdout)
          await new Promise<void>((resolve, reject) => {
            out.end((err?: Error | null) => (err ? reject(err) : resolve()));
          });
      } catch (err) {
        if (err instanceof CliFailure) throw err;
        throw outError ? writeFailed(outError) : err;
      } finally {
        progress?.stop();
      }
    }
    if (httpFailed) throw new CliFailure(EXIT.httpError, `The requested URL returned error: ${res.status}`);
  } catch (err) {
    if (err instanceof CliFailure) {
      exitCode = err.exitCode;
      vars.errormsg = err.message;
    } else if (err instanceof CycleTLSError || isErrorCode((err as { code?: string })?.code ?? '')) {
      const e = err as CycleTLSError;
      exitCode = exitCodeFor(e.code, e.stage);
      vars.errormsg = errorMessage(e);
      if (!res) await showWire(undefined, []);
      if (opts.json)
        await write(
          io.stdout,
          `${JSON.stringify({ error: { code: e.code, stage: e.stage, message: e.message } }, null, 2)}\n`,
        );
    } else throw err;
    ctx.say(`(${exitCode}) ${vars.errormsg}`);
  }
  vars.exitcode = exitCode;
  vars.time_total = elapsed();
  vars.speed_download = vars.time_total > 0 ? vars.size_download / vars.time_total : 0;
  if (opts.writeOut !== undefined) {
    try {
      let format = opts.writeOut;
      if (format.startsWith('@')) format = readInput(format.slice(1)).toString('utf8');
      if (format.includes('remote_ip') || format.includes('remote_port') || format.includes('%{json}')) {
        const remote = await lookupRemote(
          new URL(vars.url_effective),
          ctx.baseOptions.proxy as string | undefined,
        );
        vars.remote_ip = remote.ip;
        vars.remote_port = remote.port;
      }
      for (const piece of formatWriteOut(format, vars, rawHeaders, (m) => ctx.say(m)))
        await write(piece.stream === 'stdout' ? io.stdout : io.stderr, piece.text);
    } catch (err) {
      if (!(err instanceof CliFailure)) throw err;
      // The transfer's own failure, if any, was said already and stays the exit code.
      if (exitCode === EXIT.ok) {
        ctx.say(`(${err.exitCode}) ${err.message}`);
        exitCode = err.exitCode;
      }
    }
  }
  return exitCode;
}

/** Runs the command; resolves with the exit code (the caller sets process.exitCode). */
export async function main(argv: readonly string[], io: CliIo = process): Promise<number> {
  // A failed write is reported to its callback (write() turns it into exit 23); without a listener the
  // same error, emitted on the stream too, would end the process (a reader of stdout that went away).
  io.stdout.on('error', () => {});
  let opts: CliOptions;
  const say = (message: string): void => {
    io.stderr.write(`${NAME}: ${message}\n`);
  };
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    say(err.message);
    say(`try '${NAME} --help' for more information`);
    return err.exitCode;
  }
  if (opts.help) {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  try {
    if (opts.version) {
      io.stdout.write(versionText());
      return EXIT.ok;
    }
    if (opts.listProfiles) {
      await listProfiles(io, opts.verbose);
      return EXIT.ok;
    }
  } catch (err) {
    say((err as Error).message);
    return EXIT.usage;
  }
  const quiet = opts.silent && !opts.showError;
  const report = (message: string): void => {
    if (!quiet) say(message);
  };
  if (opts.urls.length === 0) {
    say('no URL specified');
    say(`try '${NAME} --help' for more information`);
    return EXIT.usage;
  }
  let client: { exit(): Promise<unknown> } | undefined;
  try {
    const list = transfers(opts);
    const headers = requestHeaders(opts);
    let body = requestData(opts);
    if (opts.form.length > 0) {
      if (body) throw new UsageError('-d and -F cannot be used together');
      const form = await requestForm(opts);
      body = form.body;
      if (!headers.some(([n]) => n.toLowerCase() === 'content-type'))
        headers.push(['Content-Type', form.contentType]);
    } else if (body && !opts.get && !headers.some(([n]) => n.toLowerCase() === 'content-type')) {
      headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
    }
    if (opts.referer) headers.push(['Referer', opts.referer]);
    if (opts.user) headers.push(['Authorization', `Basic ${Buffer.from(opts.user).toString('base64')}`]);
    const method = opts.method ?? (opts.head ? 'HEAD' : body && !opts.get ? 'POST' : 'GET');

    let jar: CookieJar | undefined;
    const cookieFiles = opts.cookies.filter((c) => !c.includes('='));
    if (cookieFiles.length > 0 || opts.cookieJarOut) {
      jar = new CookieJar();
      for (const file of cookieFiles) {
        // curl starts its cookie engine even when the -b file does not exist yet.
        if (!fs.existsSync(file)) continue;
        await loadCookieFile(jar, readInput(file).toString('utf8'));
      }
    }
    const headerObject: Record<string, string | string[]> = {};
    for (const [n, v] of headers) {
      const prev = headerObject[n];
      headerObject[n] = prev === undefined ? v : ([] as string[]).concat(prev, v);
    }
    const baseOptions: Record<string, unknown> = {
      headers: headerObject,
      userAgent: opts.userAgent,
      cookies: cookieStrings(opts),
      cookieJar: jar,
      profile: opts.profile,
      ja3: opts.ja3,
      ja4r: opts.ja4r,
      http2Fingerprint: opts.h2Fingerprint,
      disableGrease: opts.disableGrease || undefined,
      proxy: proxyUrl(opts),
      insecureSkipVerify: opts.insecure,
      disableRedirect: !opts.location,
      maxRedirects: opts.maxRedirs < 0 ? 1000 : opts.maxRedirs,
      // curl has no overall deadline unless -m says so; the engine's longest is a year.
      timeout: opts.maxTime && opts.maxTime > 0 ? opts.maxTime : nativeConstants().maxTimeoutMs / 1000,
      connectTimeout: opts.connectTimeout && opts.connectTimeout > 0 ? opts.connectTimeout : 300,
      forceHTTP1: opts.http === '1.1' || undefined,
      forceHTTP3: opts.http === '3' || undefined,
      decompress: opts.compressed,
      rejectOnError: true,
    };
    for (const k of Object.keys(baseOptions)) if (baseOptions[k] === undefined) delete baseOptions[k];

    const cycle = await initCycleTLS({ shareAcrossProcesses: false, rejectOnError: true });
    client = cycle as unknown as { exit(): Promise<unknown> };
    const request = cycle as unknown as RequestFn;
    const ctx: RunContext = { opts, io, request, jar, baseOptions, method, body, say: report };
    let exitCode: number = EXIT.ok;
    for (const transfer of list) {
      const code = await runTransfer(ctx, transfer);
      if (code !== EXIT.ok) exitCode = code;
    }
    if (jar && opts.cookieJarOut) {
      try {
        const text = await formatCookieFile(jar);
        if (opts.cookieJarOut === '-') await write(io.stdout, text);
        else fs.writeFileSync(opts.cookieJarOut, text);
      } catch (err) {
        report(
          `(${EXIT.writeError}) failed to save cookies in ${opts.cookieJarOut}: ${(err as Error).message}`,
        );
        exitCode = EXIT.writeError;
      }
    }
    return exitCode;
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
      return err.exitCode;
    }
    if (err instanceof CliFailure) {
      report(`(${err.exitCode}) ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof CycleTLSError) {
      report(`(${exitCodeFor(err.code, err.stage)}) ${errorMessage(err)}`);
      return exitCodeFor(err.code, err.stage);
    }
    throw err;
  } finally {
    await client?.exit();
  }
}
