// What the command line says to send, read into request options: the body (-d/--data-*, -F), the
// headers (-H, @file), -b cookie strings, the URL (curl's "no scheme means http://") and the proxy
// (-x, -U). Files named with @ are read here; a file that cannot be read is curl's exit 26.
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { UsageError } from './args';
import type { CliOptions } from './args';
import { CliFailure, EXIT } from './exit-codes';

export function readInput(file: string): Buffer {
  try {
    return file === '-' ? fs.readFileSync(0) : fs.readFileSync(file);
  } catch (err) {
    throw new CliFailure(
      EXIT.readError,
      `Failed to open/read local data from file/application: ${file}: ${(err as Error).message}`,
    );
  }
}

/** -d/--data-*: the parts joined with '&', as curl joins them. */
export function requestData(opts: CliOptions): Buffer | undefined {
  if (opts.data.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const part of opts.data) {
    const v = part.value;
    if (part.kind === 'raw') parts.push(Buffer.from(v));
    else if (part.kind === 'urlencode') {
      // content | =content | name=content | @file | name@file
      const at = v.indexOf('@');
      const eq = v.indexOf('=');
      if (at >= 0 && (eq < 0 || at < eq)) {
        const name = v.slice(0, at);
        const content = encodeURIComponent(readInput(v.slice(at + 1)).toString('utf8'));
        parts.push(Buffer.from(name ? `${name}=${content}` : content));
      } else if (eq >= 0) {
        const name = v.slice(0, eq);
        const content = encodeURIComponent(v.slice(eq + 1));
        parts.push(Buffer.from(name ? `${name}=${content}` : content));
      } else parts.push(Buffer.from(encodeURIComponent(v)));
    } else if (v.startsWith('@')) {
      const bytes = readInput(v.slice(1));
      // -d @file drops carriage returns and newlines, --data-binary keeps every byte (curl's rule).
      parts.push(
        part.kind === 'ascii'
          ? Buffer.from(bytes.toString('latin1').replace(/[\r\n]/g, ''), 'latin1')
          : bytes,
      );
    } else parts.push(Buffer.from(v));
  }
  const joined: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) joined.push(Buffer.from('&'));
    joined.push(p);
  });
  return Buffer.concat(joined);
}

const MIME_BY_EXTENSION: Record<string, string> = {
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.webp': 'image/webp',
};

/**
 * -F: a multipart body, serialized once by Node's own FormData encoder (so the request and the -v replay
 * carry the same boundary), with its Content-Type.
 */
export async function requestForm(opts: CliOptions): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const part of opts.form) {
    if (part.source === 'value') {
      form.append(part.name, part.type ? new Blob([part.value], { type: part.type }) : part.value);
    } else if (part.source === 'file-content') {
      form.append(part.name, readInput(part.value).toString('utf8'));
    } else {
      const bytes = readInput(part.value);
      const type =
        part.type ?? MIME_BY_EXTENSION[path.extname(part.value).toLowerCase()] ?? 'application/octet-stream';
      const filename = part.filename ?? (part.value === '-' ? '' : path.basename(part.value));
      form.append(part.name, new Blob([bytes], { type }), filename);
    }
  }
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type') ?? 'multipart/form-data',
  };
}

/** -H lines in order: "Name: value"; "Name:" drops earlier ones; "Name;" sends it empty; @file: lines. */
export function requestHeaders(opts: CliOptions): Array<[string, string]> {
  const lines: string[] = [];
  for (const h of opts.headers) {
    if (h.startsWith('@')) lines.push(...readInput(h.slice(1)).toString('utf8').split(/\r?\n/));
    else lines.push(h);
  }
  let out: Array<[string, string]> = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    const semi = line.indexOf(';');
    if (colon < 0 && semi > 0 && line.slice(semi + 1).trim() === '') {
      out.push([line.slice(0, semi).trim(), '']);
      continue;
    }
    if (colon <= 0) throw new UsageError(`option -H: expected "Name: value", got ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (value === '') out = out.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
    else out.push([name, value]);
  }
  return out;
}

/** curl's -b "k=v; k2=v2" (an argument with '=') as the `cookies` option; others are files to load. */
export function cookieStrings(opts: CliOptions): Record<string, string> | undefined {
  const cookies: Record<string, string> = {};
  let any = false;
  for (const arg of opts.cookies) {
    if (!arg.includes('=')) continue;
    for (const pair of arg.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      cookies[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      any = true;
    }
  }
  return any ? cookies : undefined;
}

/** A URL as curl takes it: no scheme means http://; a scheme other than http(s) is exit 1. */
export function parseUrl(raw: string): URL {
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliFailure(EXIT.badUrl, `URL rejected: Malformed input to a URL function: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliFailure(1, `Protocol "${url.protocol.slice(0, -1)}" not supported`);
  return url;
}

export function proxyUrl(opts: CliOptions): string | undefined {
  if (!opts.proxy) return undefined;
  const raw = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(opts.proxy) ? opts.proxy : `http://${opts.proxy}`;
  if (!opts.proxyUser) return raw;
  const url = new URL(raw);
  const colon = opts.proxyUser.indexOf(':');
  url.username = encodeURIComponent(colon < 0 ? opts.proxyUser : opts.proxyUser.slice(0, colon));
  url.password = colon < 0 ? '' : encodeURIComponent(opts.proxyUser.slice(colon + 1));
  return url.toString().replace(/\/$/, '');
}
