// The command line, read with curl's conventions: short flags combine (-sSL), a short option's value may
// be glued on (-XPOST, -ofile) or follow; long options take `--opt value` or `--opt=value`; booleans
// take a `--no-` prefix; -H repeats; -d parts join with '&'; anything else is a URL. Pure: no I/O here,
// so the file reads of @file arguments happen in main.ts (their failures are curl's exit 26).

/** A usage error (curl's exit 2) or a malformed URL (exit 3). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: 2 | 3 = 2,
  ) {
    super(message);
  }
}

/** One -d, --data-ascii, --data-binary, --data-raw or --data-urlencode part, in the order given. */
export interface DataPart {
  kind: 'ascii' | 'binary' | 'raw' | 'urlencode';
  value: string;
}

/** One -F part: name=value, name=@file (an upload) or name=<file (the file's text as the value). */
export interface FormPart {
  name: string;
  value: string;
  source: 'value' | 'file' | 'file-content';
  type?: string;
  filename?: string;
}

export interface CliOptions {
  urls: string[];
  method?: string;
  headers: string[];
  data: DataPart[];
  form: FormPart[];
  get: boolean;
  userAgent?: string;
  referer?: string;
  user?: string;
  cookies: string[];
  cookieJarOut?: string;
  proxy?: string;
  proxyUser?: string;
  insecure: boolean;
  location: boolean;
  maxRedirs: number;
  outputs: string[];
  remoteNames: number;
  include: boolean;
  head: boolean;
  silent: boolean;
  showError: boolean;
  fail: boolean;
  failWithBody: boolean;
  verbose: boolean;
  writeOut?: string;
  dumpHeader?: string;
  http: 'default' | '1.1' | '2' | '3';
  compressed: boolean;
  maxTime?: number;
  connectTimeout?: number;
  profile?: string;
  ja3?: string;
  ja4r?: string;
  h2Fingerprint?: string;
  disableGrease: boolean;
  listProfiles: boolean;
  json: boolean;
  progress: boolean;
  help: boolean;
  version: boolean;
}

type Setter = (o: CliOptions, value: string, name: string) => void;
interface OptionSpec {
  long: string;
  short?: string;
  /** A boolean flag (`--no-<long>` turns it off), else it takes a value. */
  flag?: (o: CliOptions, on: boolean) => void;
  set?: Setter;
}

function seconds(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`option ${name}: expected a number of seconds, got ${JSON.stringify(value)}`);
  return n;
}

const OPTIONS: OptionSpec[] = [
  { long: 'request', short: 'X', set: (o, v) => (o.method = v) },
  { long: 'header', short: 'H', set: (o, v) => o.headers.push(v) },
  { long: 'data', short: 'd', set: (o, v) => o.data.push({ kind: 'ascii', value: v }) },
  { long: 'data-ascii', set: (o, v) => o.data.push({ kind: 'ascii', value: v }) },
  { long: 'data-binary', set: (o, v) => o.data.push({ kind: 'binary', value: v }) },
  { long: 'data-raw', set: (o, v) => o.data.push({ kind: 'raw', value: v }) },
  { long: 'data-urlencode', set: (o, v) => o.data.push({ kind: 'urlencode', value: v }) },
  { long: 'form', short: 'F', set: (o, v) => o.form.push(parseFormPart(v)) },
  { long: 'get', short: 'G', flag: (o, on) => (o.get = on) },
  { long: 'user-agent', short: 'A', set: (o, v) => (o.userAgent = v) },
  { long: 'referer', short: 'e', set: (o, v) => (o.referer = v) },
  { long: 'user', short: 'u', set: (o, v) => (o.user = v) },
  { long: 'cookie', short: 'b', set: (o, v) => o.cookies.push(v) },
  { long: 'cookie-jar', short: 'c', set: (o, v) => (o.cookieJarOut = v) },
  { long: 'proxy', short: 'x', set: (o, v) => (o.proxy = v) },
  { long: 'proxy-user', short: 'U', set: (o, v) => (o.proxyUser = v) },
  { long: 'insecure', short: 'k', flag: (o, on) => (o.insecure = on) },
  { long: 'location', short: 'L', flag: (o, on) => (o.location = on) },
  {
    long: 'max-redirs',
    set: (o, v, n) => {
      if (!/^-?\d+$/.test(v))
        throw new UsageError(`option ${n}: expected a number, got ${JSON.stringify(v)}`);
      o.maxRedirs = Number(v);
    },
  },
  { long: 'output', short: 'o', set: (o, v) => o.outputs.push(v) },
  { long: 'remote-name', short: 'O', flag: (o, on) => (o.remoteNames += on ? 1 : 0) },
  { long: 'include', short: 'i', flag: (o, on) => (o.include = on) },
  { long: 'head', short: 'I', flag: (o, on) => (o.head = on) },
  { long: 'silent', short: 's', flag: (o, on) => (o.silent = on) },
  { long: 'show-error', short: 'S', flag: (o, on) => (o.showError = on) },
  { long: 'fail', short: 'f', flag: (o, on) => (o.fail = on) },
  { long: 'fail-with-body', flag: (o, on) => (o.failWithBody = on) },
  { long: 'verbose', short: 'v', flag: (o, on) => (o.verbose = on) },
  { long: 'write-out', short: 'w', set: (o, v) => (o.writeOut = v) },
  { long: 'dump-header', short: 'D', set: (o, v) => (o.dumpHeader = v) },
  { long: 'http1.1', flag: (o) => (o.http = '1.1') },
  { long: 'http2', flag: (o) => (o.http = '2') },
  { long: 'http3', flag: (o) => (o.http = '3') },
  { long: 'http3-only', flag: (o) => (o.http = '3') },
  { long: 'compressed', flag: (o, on) => (o.compressed = on) },
  { long: 'max-time', short: 'm', set: (o, v, n) => (o.maxTime = seconds(v, n)) },
  { long: 'connect-timeout', set: (o, v, n) => (o.connectTimeout = seconds(v, n)) },
  { long: 'profile', set: (o, v) => (o.profile = v) },
  // curl-impersonate's spelling of the same choice.
  { long: 'impersonate', set: (o, v) => (o.profile = v) },
  { long: 'ja3', set: (o, v) => (o.ja3 = v) },
  { long: 'ja4r', set: (o, v) => (o.ja4r = v) },
  { long: 'h2-fingerprint', set: (o, v) => (o.h2Fingerprint = v) },
  { long: 'disable-grease', flag: (o, on) => (o.disableGrease = on) },
  { long: 'list-profiles', flag: (o, on) => (o.listProfiles = on) },
  { long: 'json', flag: (o, on) => (o.json = on) },
  { long: 'progress-bar', short: '#', flag: (o, on) => (o.progress = on) },
  { long: 'progress-meter', flag: (o, on) => (o.progress = on) },
  { long: 'url', set: (o, v) => o.urls.push(v) },
  { long: 'help', short: 'h', flag: (o, on) => (o.help = on) },
  { long: 'version', short: 'V', flag: (o, on) => (o.version = on) },
];

const BY_LONG = new Map(OPTIONS.map((s) => [s.long, s]));
const BY_SHORT = new Map(OPTIONS.filter((s) => s.short).map((s) => [s.short as string, s]));

/** `name=value`, `name=@file`, `name=<file`, each with optional `;type=…` and `;filename=…` (curl's -F). */
export function parseFormPart(arg: string): FormPart {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`option -F: expected name=content, got ${JSON.stringify(arg)}`);
  const name = arg.slice(0, eq);
  let rest = arg.slice(eq + 1);
  let source: FormPart['source'] = 'value';
  if (rest.startsWith('@')) source = 'file';
  else if (rest.startsWith('<')) source = 'file-content';
  if (source !== 'value') rest = rest.slice(1);
  const part: FormPart = { name, value: rest, source };
  // Modifiers follow the first ';' of a file part; a plain value keeps its semicolons unless a
  // modifier is spelled out (curl does the same: "a=b;c" stays "b;c").
  const m = /;(type|filename)=/.exec(rest);
  if (m) {
    part.value = rest.slice(0, m.index);
    for (const mod of rest.slice(m.index + 1).split(';')) {
      const [key, ...v] = mod.split('=');
      if (key === 'type') part.type = v.join('=');
      else if (key === 'filename') part.filename = v.join('=').replace(/^"(.*)"$/, '$1');
    }
  }
  return part;
}

function defaults(): CliOptions {
  return {
    urls: [],
    headers: [],
    data: [],
    form: [],
    get: false,
    cookies: [],
    insecure: false,
    location: false,
    maxRedirs: 50, // curl's default with -L
    outputs: [],
    remoteNames: 0,
    include: false,
    head: false,
    silent: false,
    showError: false,
    fail: false,
    failWithBody: false,
    verbose: false,
    http: 'default',
    compressed: true, // a browser always asks for compressed bodies
    disableGrease: false,
    listProfiles: false,
    json: false,
    progress: true,
    help: false,
    version: false,
  };
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const o = defaults();
  let i = 0;
  const next = (name: string): string => {
    if (i + 1 >= argv.length) throw new UsageError(`option ${name}: requires parameter`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      o.urls.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      let long = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      let on = true;
      let spec = BY_LONG.get(long);
      if (!spec && long.startsWith('no-')) {
        spec = BY_LONG.get(long.slice(3));
        if (spec?.flag) {
          on = false;
          long = long.slice(3);
        } else spec = undefined;
      }
      if (!spec) throw new UsageError(`option ${arg}: is unknown`);
      if (spec.flag) {
        if (eq > 0) throw new UsageError(`option --${long}: takes no value`);
        spec.flag(o, on);
      } else (spec.set as Setter)(o, eq > 0 ? arg.slice(eq + 1) : next(`--${long}`), `--${long}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const spec = BY_SHORT.get(arg[j]);
        if (!spec) throw new UsageError(`option -${arg[j]}: is unknown`);
        if (spec.flag) {
          spec.flag(o, true);
          continue;
        }
        // A value option takes the rest of this argument, or the next one.
        const glued = arg.slice(j + 1);
        (spec.set as Setter)(o, glued !== '' ? glued : next(`-${arg[j]}`), `-${arg[j]}`);
        break;
      }
      continue;
    }
    o.urls.push(arg);
  }
  return o;
}

export const USAGE = `Usage: cycletls-native [options...] <url>...   (alias: ctn)
A curl-like client that looks like a browser on the wire (TLS ClientHello, HTTP/2 frames, headers).

 -X, --request <method>     request method (default GET; POST with -d/-F; HEAD with -I)
 -H, --header <line>        extra header "Name: value" (repeatable; "Name:" drops an earlier -H of
                            that name; @file reads one header per line)
 -d, --data <data>          POST data, parts joined with '&' (@file: the file without CR/LF, @- stdin)
     --data-binary <data>   as -d, @file sent byte for byte
     --data-raw <data>      as -d, '@' not special
     --data-urlencode <d>   content, name=content, =content, name@file: URL-encoded
 -F, --form <name=content>  multipart/form-data part: name=value, name=@file (upload), name=<file;
                            ;type=<mime> and ;filename=<name> modifiers
 -G, --get                  put -d data into the URL's query and send a GET
 -A, --user-agent <ua>      the User-Agent (replaces the profile's in place)
 -e, --referer <url>        the Referer header
 -u, --user <user:pass>     HTTP basic authentication
 -b, --cookie <data|file>   "k=v; k2=v2", or a cookie file (Netscape/curl format) to read
 -c, --cookie-jar <file>    write every cookie to this file (Netscape/curl format) at the end ("-": stdout)
 -x, --proxy <url>          http://, https://, socks4://, socks4a://, socks5://, socks5h:// (no
                            scheme: http://)
 -U, --proxy-user <u:p>     proxy credentials
 -k, --insecure             do not verify the server's certificate
 -L, --location             follow redirects (see --max-redirs, default 50)
     --max-redirs <n>       at most this many redirects (-1: 1000)
 -o, --output <file>        write the body to <file> ("-": stdout); one per URL
 -O, --remote-name          write the body to a file named as the URL's last path segment
 -i, --include              print the response head before the body
 -I, --head                 HEAD request; print the response head
 -D, --dump-header <file>   write the response head to <file> ("-": stdout)
 -s, --silent               no progress bar, no error messages
 -S, --show-error           with -s: still print error messages
 -f, --fail                 HTTP status >= 400: no body, exit 22
     --fail-with-body       HTTP status >= 400: the body, then exit 22
 -v, --verbose              what went on the wire: TLS version, cipher, ALPN, JA4, JA3, Akamai
                            HTTP/2 string, request and response headers
 -w, --write-out <format>   print curl variables after the transfer: %{http_code}, %{time_total},
                            %{size_download}, %{url_effective}, %{http_version}, %{num_redirects},
                            %{content_type}, %{remote_ip}, %{header{name}}, %{json}... (@file: read it)
     --http1.1              offer only HTTP/1.1 in ALPN
     --http2                offer HTTP/2 and HTTP/1.1 (the default, as browsers do)
     --http3                HTTP/3 only (forceHTTP3)
     --compressed           ask for and decode gzip/deflate/br/zstd (on by default, as browsers;
                            --no-compressed writes the bytes as received)
 -m, --max-time <s>         the whole transfer's deadline in seconds (default: none)
     --connect-timeout <s>  DNS + TCP connect deadline in seconds (default 300, as curl)
     --profile <name>       browser preset (--list-profiles), e.g. chrome, firefox_153, safari_26;
                            --impersonate is the same
     --ja3 <string>         JA3 of the ClientHello to send
     --ja4r <string>        JA4_r of the ClientHello to send
     --h2-fingerprint <s>   Akamai HTTP/2 string to send
     --disable-grease       no GREASE values in the ClientHello
     --list-profiles        print the presets and their user agents (with -v: their JA4 and
                            Akamai HTTP/2 string)
     --json                 print the response as cycletls's JSON shape (status, headers, data...);
                            not curl's --json, which sends JSON: use -d with -H 'Content-Type: ...'
 -#, --progress-bar         a progress bar on stderr for -o/-O when stderr is a terminal (default;
                            --no-progress-meter turns it off)
 -h, --help                 this text
 -V, --version              versions and presets

Exit codes are curl's: 2 usage, 3 bad URL, 6 DNS, 7 connect, 22 HTTP error with -f, 23 write error,
26 read error, 28 timeout, 35 TLS handshake, 47 too many redirects, 60 certificate not trusted.
`;
