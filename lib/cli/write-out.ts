// curl's -w/--write-out: text with %{variable} substitutions, \n \r \t escapes and %% for '%';
// %{stderr} and %{stdout} switch the stream the rest goes to, %{header{name}} is a response header,
// %{json} all the variables as one JSON object, %{onerror} stops the output unless the transfer failed.

/** One transfer's facts, in curl's variable names. */
export interface WriteOutVars {
  http_code: number;
  http_version: string;
  size_download: number;
  size_header: number;
  size_upload: number;
  time_namelookup: number;
  time_connect: number;
  time_appconnect: number;
  time_pretransfer: number;
  time_starttransfer: number;
  time_redirect: number;
  time_total: number;
  speed_download: number;
  url: string;
  url_effective: string;
  num_redirects: number;
  num_headers: number;
  content_type: string;
  remote_ip: string;
  remote_port: number;
  scheme: string;
  method: string;
  filename_effective: string;
  exitcode: number;
  errormsg: string;
  ssl_verify_result: number;
  /** Ours: the TLS version, cipher and ALPN the server chose ('' without TLS). */
  tls_version: string;
  tls_cipher: string;
  alpn: string;
}

export interface WriteOutPiece {
  stream: 'stdout' | 'stderr';
  text: string;
}

const TIME_VARS = new Set([
  'time_namelookup',
  'time_connect',
  'time_appconnect',
  'time_pretransfer',
  'time_starttransfer',
  'time_redirect',
  'time_total',
]);

function variable(vars: WriteOutVars, name: string): string | undefined {
  if (name === 'response_code') name = 'http_code';
  if (!(name in vars)) return undefined;
  const v = vars[name as keyof WriteOutVars];
  if (name === 'http_code') return String(v).padStart(3, '0');
  if (TIME_VARS.has(name)) return (v as number).toFixed(6);
  if (name === 'speed_download') return String(Math.round(v as number));
  return String(v);
}

/**
 * The pieces to print. `headers` are the final response's [name, value, ...]; unknown variables print
 * nothing, as in curl (which warns on stderr: so do we, once each).
 */
export function formatWriteOut(
  format: string,
  vars: WriteOutVars,
  headers: readonly string[],
  warn: (message: string) => void = () => {},
): WriteOutPiece[] {
  const pieces: WriteOutPiece[] = [];
  let stream: WriteOutPiece['stream'] = 'stdout';
  let text = '';
  const flush = (): void => {
    if (text !== '') pieces.push({ stream, text });
    text = '';
  };
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch === '\\' && i + 1 < format.length) {
      const esc = format[i + 1];
      const mapped =
        esc === 'n' ? '\n' : esc === 'r' ? '\r' : esc === 't' ? '\t' : esc === '\\' ? '\\' : null;
      if (mapped !== null) {
        text += mapped;
        i++;
        continue;
      }
    }
    if (ch === '%' && format[i + 1] === '%') {
      text += '%';
      i++;
      continue;
    }
    if (ch === '%' && format[i + 1] === '{') {
      const headerMatch = /^%\{header\{([^}]*)\}\}/.exec(format.slice(i));
      if (headerMatch) {
        const want = headerMatch[1].toLowerCase();
        const values: string[] = [];
        for (let h = 0; h + 1 < headers.length; h += 2)
          if (headers[h].toLowerCase() === want) values.push(headers[h + 1]);
        text += values.join(', ');
        i += headerMatch[0].length - 1;
        continue;
      }
      const end = format.indexOf('}', i);
      if (end > 0) {
        const name = format.slice(i + 2, end);
        i = end;
        if (name === 'stdout' || name === 'stderr') {
          flush();
          stream = name;
        } else if (name === 'onerror') {
          if (vars.exitcode === 0) break;
        } else if (name === 'json') {
          const all: Record<string, unknown> = { ...vars, response_code: vars.http_code };
          text += JSON.stringify(all);
        } else {
          const v = variable(vars, name);
          if (v === undefined) warn(`unknown --write-out variable: '${name}'`);
          else text += v;
        }
        continue;
      }
    }
    text += ch;
  }
  flush();
  return pieces;
}
