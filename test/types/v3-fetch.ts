// Compiled (never run) by test/unit/types.test.js: cycletls v3's client and fetch in the public
// contract. Lines marked @ts-expect-error must fail to compile.
import CycleTLSDefault, { CycleTLS, CycleTLSError, createFetch, fetch, initCycleTLS } from 'cycletls-native';
import type {
  CycleTLSClient,
  CycleTLSOptions,
  CycleTLSWebSocket,
  Fetch,
  FetchInit,
  SSEEvent,
  V3Response,
  V3SSEResponse,
} from 'cycletls-native';
import type { Readable } from 'node:stream';

async function v3(): Promise<void> {
  // The default export serves both styles.
  const legacy: CycleTLSClient = await CycleTLSDefault({ port: 9119 });
  const named: CycleTLSClient = await initCycleTLS();
  const options: CycleTLSOptions = {
    port: 9119,
    debug: false,
    timeout: 30000,
    executablePath: '/path/to/binary',
    autoSpawn: true,
    initialWindow: 65536,
    creditThreshold: 32768,
  };
  const client: CycleTLS = new CycleTLSDefault(options);
  const client2 = new CycleTLS();
  // @ts-expect-error autoSpawn is a boolean
  new CycleTLS({ autoSpawn: 'yes' });

  const r: V3Response = await client.request({ url: 'https://x', method: 'GET', headers: { Accept: 'a' } });
  const code: number = r.statusCode + r.status;
  const ct: string = r.headers['content-type'][0];
  const body: Readable = r.body;
  const id: string = r.requestId + r.finalUrl;
  const buf: Buffer = await r.buffer();
  const j: { a: number } = await r.json<{ a: number }>();
  await r.text();
  await r.arrayBuffer();
  await r.blob();
  await client.get('https://x', { ja3: '771,...', userAgent: 'UA', timeout: 5000, readTimeout: 1000 });
  await client.post('https://x', JSON.stringify({ name: 'Alice' }), { headers: { 'Content-Type': 'x' } });
  await client.put('https://x', Buffer.from('b'));
  await client.patch('https://x');
  await client.head('https://x');
  await client.delete('https://x');
  // @ts-expect-error v3 has no responseType
  await client.get('https://x', { responseType: 'text' });
  // @ts-expect-error v3's client is not callable
  await client('https://x');
  // @ts-expect-error request() takes the url inside its options
  await client.request('https://x');

  const ws: CycleTLSWebSocket = await client.ws('wss://x', { ja3: '771,...' });
  ws.on('open', () => undefined);
  ws.on('message', (data, isBinary: boolean) => void (Buffer.isBuffer(data) ? data.toString() : isBinary));
  ws.on(
    'close',
    (closeCode: number, reason: Buffer) => void reason.toString(closeCode === 1000 ? 'utf8' : 'hex'),
  );
  ws.on('error', (err: Error) => void err.message);
  ws.on('ping', (d: Buffer) => void d);
  ws.send('hello', (err) => void err?.message);
  ws.send(Buffer.from([1]), { binary: true });
  ws.ping();
  ws.pong(Buffer.from('x'));
  ws.binaryType = 'arraybuffer';
  // @ts-expect-error not a binaryType
  ws.binaryType = 'blob';
  const state: number = ws.readyState + ws.bufferedAmount;
  const strings: string = ws.url + ws.protocol + ws.extensions;
  ws.close(1000, 'Done');
  ws.terminate();

  const sse: V3SSEResponse = await client.sse('https://x', { sseTimeout: 1000 });
  for await (const event of sse.events()) {
    const e: SSEEvent = event;
    void e.data;
  }
  sse.onEvent((e) => void e.id);
  sse.onError((e) => void e.message);
  await sse.close();
  await client.close();

  try {
    await client.get('https://x');
  } catch (error) {
    if (error instanceof CycleTLSError) {
      const s: number = error.statusCode;
      void s;
    }
  }
  void [legacy, named, client2, code, ct, body, id, buf, j, state, strings];
}

async function fetches(): Promise<void> {
  const res: Response = await fetch('https://x');
  const url: string = res.url;
  const redirected: boolean = res.redirected;
  const cookies: string[] = res.headers.getSetCookie();
  await fetch(new URL('https://x'), { method: 'POST', body: new URLSearchParams({ a: '1' }) });
  await fetch(new Request('https://x'), { redirect: 'manual', signal: AbortSignal.timeout(1000) });
  const init: FetchInit = {
    method: 'PUT',
    headers: [['a', '1']],
    body: new ReadableStream<Uint8Array>(),
    duplex: 'half',
    profile: 'firefox_153',
    proxy: 'socks5://127.0.0.1:1080',
    ja3: '771,...',
  };
  await fetch('https://x', init);
  await fetch('https://x', { headers: new Headers({ a: '1' }), body: new FormData() });
  await fetch('https://x', { body: new Blob(['x']), redirect: 'error' });
  // @ts-expect-error not a redirect mode
  await fetch('https://x', { redirect: 'sometimes' });
  // @ts-expect-error not a profile
  await fetch('https://x', { profile: 'netscape' });
  const bound: Fetch = createFetch({ profile: 'chrome', port: 9200, maxConnections: 8, headers: { a: 'b' } });
  await bound('https://x');
  await bound.close();
  await fetch.close();
  try {
    await fetch('https://x');
  } catch (err) {
    if (err instanceof TypeError && err.cause instanceof CycleTLSError) void err.cause.code;
  }
  void [url, redirected, cookies];
}

void v3;
void fetches;
