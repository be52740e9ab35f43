'use strict';
// Unit tests of cycletls's error texts (lib/compat-text.ts): each engine error, with the message the
// engine really gives, becomes the text cycletls 2.0.5 was seen to give for the same failure.
const { cycletlsErrorText, cycletlsStatus } = require('../../dist/compat-text');
const { CycleTLSError } = require('../../dist/errors');

const SYSCALL = 'Request returned a Syscall Error: ';
const text = (code, stage, message, req) =>
  cycletlsErrorText(new CycleTLSError(code, message, stage), { method: 'GET', ...req });
/** "<summary>-> \n<detail>" where the summary repeats the detail after cycletls's prefix. */
const syscall = (detail) => `${SYSCALL}${detail}-> \n${detail}`;

describe('connecting', () => {
  test("refused: Go's dial error, the method as Go prints it, the URL quoted", () => {
    expect(
      text('ERR_CONNECT_REFUSED', 'connect', 'connect to 127.0.0.1:41 failed: Connection refused', {
        url: 'https://127.0.0.1:41/',
      }),
    ).toBe(syscall('Get "https://127.0.0.1:41/": dial tcp 127.0.0.1:41: connect: connection refused'));
    expect(
      text('ERR_CONNECT_REFUSED', 'connect', 'connect to 127.0.0.1:41 failed: Connection refused', {
        method: 'POST',
        url: 'http://127.0.0.1:41/x?y=1',
      }),
    ).toBe(syscall('Post "http://127.0.0.1:41/x?y=1": dial tcp 127.0.0.1:41: connect: connection refused'));
    expect(
      text('ERR_CONNECT_REFUSED', 'connect', 'connect to x failed: Connection refused', {
        method: 'patch',
        url: 'https://[::1]/',
      }),
    ).toBe(syscall('Patch "https://[::1]/": dial tcp [::1]:443: connect: connection refused'));
  });

  test('a host name: Go prints the address it dialed, which the engine names after the host', () => {
    expect(
      text(
        'ERR_CONNECT_REFUSED',
        'connect',
        'connect to localhost:41 (127.0.0.1:41) failed: Connection refused',
        { url: 'https://localhost:41/' },
      ),
    ).toBe(syscall('Get "https://localhost:41/": dial tcp 127.0.0.1:41: connect: connection refused'));
    expect(
      text(
        'ERR_CONNECT_REFUSED',
        'connect',
        'connect to localhost:41 ([::1]:41) failed: Connection refused',
        { url: 'https://localhost:41/' },
      ),
    ).toBe(syscall('Get "https://localhost:41/": dial tcp [::1]:41: connect: connection refused'));
  });

  test("another connect error: the system's reason in Go's spelling", () => {
    expect(
      text('ERR_CONNECT', 'connect', 'connect to 10.0.0.1:80 failed: Network is unreachable', {
        url: 'http://10.0.0.1/',
      }),
    ).toBe(syscall('Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: connect: network is unreachable'));
  });

  test("DNS: Go's lookup error in the summary, the dial error after it", () => {
    const t = text(
      'ERR_DNS',
      'dns',
      'DNS lookup of no-such-host.invalid failed: Host not found (authoritative)',
      { url: 'https://no-such-host.invalid/' },
    );
    const m =
      /^Request returned a Syscall Error: (lookup no-such-host\.invalid on \S+:53: no such host)-> \nGet "https:\/\/no-such-host\.invalid\/": dial tcp: (.*)$/.exec(
        t,
      );
    expect(m).not.toBeNull();
    expect(m[2]).toBe(m[1]);
  });

  test("the connection closed before a response: Go's EOF with an empty summary", () => {
    expect(
      text('ERR_CONNECTION_CLOSED', 'headers', 'the server closed the connection before sending a response', {
        url: 'http://127.0.0.1:9/',
      }),
    ).toBe('-> \nGet "http://127.0.0.1:9/": EOF');
  });
});

describe('timeouts', () => {
  test("waiting for the head (or the TLS handshake): Go's client-timeout text", () => {
    const head =
      'Request timeout: deadline exceeded-> \nGet "https://localhost:8/stall": net/http: request canceled (Client.Timeout exceeded while awaiting headers)';
    expect(
      text('ERR_TIMEOUT', 'headers', 'timed out after 1000 ms (headers)', {
        url: 'https://localhost:8/stall',
      }),
    ).toBe(head);
    expect(
      text('ERR_TIMEOUT', 'tls', 'timed out after 1000 ms (tls)', { url: 'https://localhost:8/stall' }),
    ).toBe(head);
  });

  test("dialing: Go's dial timeout; on plain http Go names the wait for a connection", () => {
    expect(
      text('ERR_CONNECT_TIMEOUT', 'connect', 'timed out after 1000 ms (connect)', {
        url: 'https://127.0.0.1:7/',
      }),
    ).toBe(
      'Request timeout: deadline exceeded-> \nGet "https://127.0.0.1:7/": dial tcp 127.0.0.1:7: i/o timeout (Client.Timeout exceeded while awaiting headers)',
    );
    expect(
      text('ERR_CONNECT_TIMEOUT', 'connect', 'timed out after 1000 ms (connect)', {
        url: 'http://127.0.0.1:7/a',
      }),
    ).toBe(
      'Request timeout: deadline exceeded-> \nGet "http://127.0.0.1:7/a": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
    );
  });

  test('in the body: the summary alone, as cycletls sends after the head', () => {
    expect(
      text('ERR_TIMEOUT', 'body', 'timed out after 1000 ms (body)', {
        url: 'https://localhost:8/stall-body',
      }),
    ).toBe('Request timeout: deadline exceeded');
  });

  test('through proxies', () => {
    expect(
      text('ERR_CONNECT_TIMEOUT', 'connect', 'timed out after 1000 ms (connect)', {
        url: 'https://localhost:8/',
        proxy: 'socks5://127.0.0.1:9',
      }),
    ).toBe(
      'Request timeout: deadline exceeded-> \nGet "https://localhost:8/": socks connect tcp 127.0.0.1:9->localhost:8: dial tcp 127.0.0.1:9: i/o timeout',
    );
    expect(
      text('ERR_CONNECT_TIMEOUT', 'connect', 'timed out after 1000 ms (connect)', {
        url: 'https://localhost:8/',
        proxy: 'http://127.0.0.1:9',
      }),
    ).toBe(
      'Request timeout: deadline exceeded-> \nGet "https://localhost:8/": dial tcp 127.0.0.1:9: i/o timeout (Client.Timeout exceeded while awaiting headers)',
    );
    expect(
      text('ERR_TIMEOUT', 'proxy', 'timed out after 2000 ms (proxy)', {
        url: 'https://localhost:8/echo',
        proxy: 'socks5://127.0.0.1:9',
      }),
    ).toBe(
      'Request timeout: deadline exceeded-> \nGet "https://localhost:8/echo": socks connect tcp 127.0.0.1:9->localhost:8: read tcp 127.0.0.1:9: i/o timeout (Client.Timeout exceeded while awaiting headers)',
    );
  });
});

describe('TLS', () => {
  const url = 'https://localhost:4/echo';
  const verify = (why) =>
    syscall(`Get "${url}": uTlsConn.Handshake() error: tls: failed to verify certificate: x509: ${why}`);

  test.each([
    ['self signed certificate'],
    ['self signed certificate in certificate chain'],
    ['unable to get local issuer certificate'],
  ])('%s → signed by unknown authority', (reason) => {
    expect(text('ERR_TLS_CERT', 'tls', `certificate verification failed: ${reason}`, { url })).toBe(
      verify('certificate signed by unknown authority'),
    );
  });

  test("expired: Go's wording with the current time", () => {
    const t = text('ERR_TLS_CERT', 'tls', 'certificate verification failed: certificate has expired', {
      url,
    });
    expect(t).toMatch(
      /^Request returned a Syscall Error: Get "https:\/\/localhost:4\/echo": uTlsConn\.Handshake\(\) error: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ-> \n/,
    );
  });

  test('expired, with the bound the engine names: "is after <notAfter>"', () => {
    const t = text(
      'ERR_TLS_CERT',
      'tls',
      'certificate verification failed: certificate has expired (not after 2021-01-01T00:00:00Z)',
      { url },
    );
    expect(t).toMatch(
      /x509: certificate has expired or is not yet valid: current time \S+Z is after 2021-01-01T00:00:00Z$/,
    );
  });

  test("a name mismatch: Go lists the certificate's DNS names (an IP host: its IP addresses)", () => {
    const names = '(certificate names: DNS:wrong.example, DNS:*.wrong.example, IP:10.0.0.1)';
    expect(
      text('ERR_TLS_CERT', 'tls', `certificate verification failed: Hostname mismatch ${names}`, { url }),
    ).toBe(verify('certificate is valid for wrong.example, *.wrong.example, not localhost'));
    const ipUrl = 'https://127.0.0.1:4/echo';
    const ipVerify = (why) =>
      syscall(`Get "${ipUrl}": uTlsConn.Handshake() error: tls: failed to verify certificate: x509: ${why}`);
    expect(
      text('ERR_TLS_CERT', 'tls', `certificate verification failed: IP address mismatch ${names}`, {
        url: ipUrl,
      }),
    ).toBe(ipVerify('certificate is valid for 10.0.0.1, not 127.0.0.1'));
    expect(
      text(
        'ERR_TLS_CERT',
        'tls',
        'certificate verification failed: IP address mismatch (certificate names: DNS:a.test)',
        { url: ipUrl },
      ),
    ).toBe(ipVerify("cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"));
    expect(
      text(
        'ERR_TLS_CERT',
        'tls',
        'certificate verification failed: Hostname mismatch (certificate names: none)',
        { url },
      ),
    ).toBe(verify('certificate is not valid for any names, but wanted to match localhost'));
    // Without the engine's list: the host alone.
    expect(text('ERR_TLS_CERT', 'tls', 'certificate verification failed: Hostname mismatch', { url })).toBe(
      verify('certificate is not valid for localhost'),
    );
  });

  test('handshake failures: an alert as Go names it, a peer that is not TLS, a peer that hangs up', () => {
    const hs = (why) => syscall(`Get "${url}": uTlsConn.Handshake() error: ${why}`);
    expect(
      text(
        'ERR_TLS_HANDSHAKE',
        'tls',
        'TLS handshake failed: error:10000410:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE',
        { url },
      ),
    ).toBe(hs('remote error: tls: handshake failure'));
    expect(
      text(
        'ERR_TLS_HANDSHAKE',
        'tls',
        'TLS handshake failed: error:1000042e:SSL routines:OPENSSL_internal:TLSV1_ALERT_PROTOCOL_VERSION',
        { url },
      ),
    ).toBe(hs('remote error: tls: protocol version not supported'));
    expect(
      text(
        'ERR_TLS_HANDSHAKE',
        'tls',
        'TLS handshake failed: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER',
        { url },
      ),
    ).toBe(hs('tls: first record does not look like a TLS handshake'));
    expect(text('ERR_TLS_HANDSHAKE', 'tls', 'TLS handshake failed: stream truncated', { url })).toBe(
      hs('EOF'),
    );
  });
});

describe('proxies', () => {
  const url = 'https://localhost:8/echo';
  test('the proxy refuses the connection: Go dials the proxy itself', () => {
    const msg = 'connect to the proxy 127.0.0.1:1 failed: Connection refused (proxy http://127.0.0.1:1)';
    expect(text('ERR_PROXY', 'connect', msg, { url, proxy: 'http://127.0.0.1:1' })).toBe(
      syscall(`Get "${url}": dial tcp 127.0.0.1:1: connect: connection refused`),
    );
    expect(text('ERR_PROXY', 'connect', msg, { url, proxy: 'socks5://127.0.0.1:1' })).toBe(
      syscall(
        `Get "${url}": socks connect tcp 127.0.0.1:1->localhost:8: dial tcp 127.0.0.1:1: connect: connection refused`,
      ),
    );
  });

  test.each([
    ['407 Proxy Authentication Required', ' (the proxy wants credentials: user:password@ in the proxy URL)'],
    ['403 Forbidden', ''],
    ['502 Bad Gateway', ''],
  ])('CONNECT answered %s: Go\'s "non 200 code" text with its StatusCode', (line, hint) => {
    const msg = `the proxy refused CONNECT localhost:8: HTTP/1.1 ${line}${hint} (proxy http://127.0.0.1:3)`;
    expect(text('ERR_PROXY', 'proxy', msg, { url, proxy: 'http://127.0.0.1:3' })).toBe(
      syscall(`Get "${url}": Proxy responded with non 200 code: ${line} StatusCode:${line.slice(0, 3)}`),
    );
  });

  test.each([
    [
      'the proxy refused CONNECT localhost:8: HTTP/1.1 407 Proxy Authentication Required (proxy http://127.0.0.1:3)',
      407,
    ],
    ['the proxy refused CONNECT localhost:8: HTTP/1.0 403 Forbidden (proxy http://127.0.0.1:3)', 403],
    [
      'the SOCKS5 proxy rejected the user name and password (status 0x01) (proxy socks5://x:#1@127.0.0.1:5)',
      421,
    ],
    [
      'the SOCKS5 proxy could not connect to 127.0.0.1:1: code 5 (connection refused) (proxy socks5://127.0.0.1:5)',
      502,
    ],
  ])("the status of a proxy failure, as Go's parseError reads it: %s → %i", (message, status) => {
    expect(cycletlsStatus(new CycleTLSError('ERR_PROXY', message, 'proxy'))).toBe(status);
  });

  test('SOCKS5: bad credentials, and the target refused by the proxy', () => {
    const auth = 'socks connect tcp 127.0.0.1:5->localhost:8: username/password authentication failed';
    expect(
      text(
        'ERR_PROXY',
        'proxy',
        'the SOCKS5 proxy rejected the user name and password (status 0x01) (proxy socks5://x:#1@127.0.0.1:5)',
        { url, proxy: 'socks5://x:y@127.0.0.1:5' },
      ),
    ).toBe(`${SYSCALL}${auth}-> \nGet "${url}": ${auth}`);
    expect(
      text(
        'ERR_PROXY',
        'proxy',
        'the SOCKS5 proxy could not connect to 127.0.0.1:1: code 5 (connection refused) (proxy socks5://127.0.0.1:5)',
        { url: 'https://127.0.0.1:1/', proxy: 'socks5://127.0.0.1:5' },
      ),
    ).toBe(
      syscall(
        'Get "https://127.0.0.1:1/": socks connect tcp 127.0.0.1:5->127.0.0.1:1: unknown error connection refused',
      ),
    );
  });
});

describe('what cycletls never produces, and failures after the head', () => {
  test('a body cut short: cycletls sends an empty summary', () => {
    expect(
      text('ERR_BODY_TRUNCATED', 'body', 'the server closed the connection before the body was complete', {
        url: 'http://a.test/',
      }),
    ).toBe('');
  });

  test("too many redirects: Go's words are ours", () => {
    expect(
      text('ERR_TOO_MANY_REDIRECTS', 'redirect', 'stopped after 10 redirects', { url: 'https://a.test/r/1' }),
    ).toBe('-> \nGet "https://a.test/r/1": stopped after 10 redirects');
  });

  test.each([
    ['ERR_BODY_TOO_LARGE', 'body'],
    ['ERR_ABORTED', 'queue'],
    ['ERR_QUEUE_FULL', 'queue'],
    ['ERR_HOST_GONE', 'link'],
    ['ERR_INTERNAL', 'engine'],
  ])('%s keeps our message', (code, stage) => {
    expect(text(code, stage, 'our own words', { url: 'https://a.test/' })).toBe('our own words');
  });
});
