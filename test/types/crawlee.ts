// Compiled (never run) by test/unit/types.test.js: cycletls-native/crawlee must satisfy Crawlee's own
// BaseHttpClient interface (from the installed @crawlee/core) and plug into HttpCrawler.
import type { BaseHttpClient, HttpResponse, StreamingHttpResponse } from '@crawlee/core';
import { HttpCrawler } from '@crawlee/http';
import CycleTLSHttpClientDefault, {
  CycleTLSHttpClient,
  HTTPError,
  RequestError,
  TimeoutError,
  MaxRedirectsError,
  ParseError,
} from 'cycletls-native/crawlee';
import type { CycleTLSHttpClientOptions } from 'cycletls-native/crawlee';

async function crawleeMain(): Promise<void> {
  const options: CycleTLSHttpClientOptions = {
    profile: 'firefox_153',
    port: 9119,
    followRedirects: true,
    maxRedirects: 5,
    requestOptions: { timeout: 30, forceHTTP1: false },
  };
  const client: BaseHttpClient = new CycleTLSHttpClient(options);
  const same: CycleTLSHttpClient = new CycleTLSHttpClientDefault();
  new HttpCrawler({ httpClient: client, requestHandler: async () => {} });
  const text: HttpResponse<'text'> = await client.sendRequest({ url: 'https://127.0.0.1/' });
  const s: string = text.body;
  const buf: HttpResponse<'buffer'> = await same.sendRequest({
    url: new URL('https://127.0.0.1/'),
    responseType: 'buffer',
  });
  const b: Buffer = buf.body;
  const streamed: StreamingHttpResponse = await same.stream({ url: 'https://127.0.0.1/' }, (res, next) => {
    next.headers.Cookie = String(res.statusCode);
  });
  streamed.stream.pipe(process.stdout);
  try {
    await same.close();
  } catch (err) {
    if (err instanceof TimeoutError || err instanceof HTTPError)
      console.log(err.code, err.response?.statusCode);
    if (err instanceof RequestError && !(err instanceof MaxRedirectsError) && !(err instanceof ParseError)) {
      console.log(err.options.url, err.cause);
    }
  }
  void s;
  void b;
  // @ts-expect-error: profiles are the preset names
  new CycleTLSHttpClient({ profile: 'netscape' });
  // @ts-expect-error: the per-request options are Crawlee's, not these
  new CycleTLSHttpClient({ requestOptions: { responseType: 'stream' } });
}
void crawleeMain;
