import CycleTLS from 'cycletls';
import { Readable } from 'node:stream';

const client = new CycleTLS();
const response = await client.get(process.env.REDIRECT_URL);

const contentType = response.headers['content-type'][0]; // Always an array
console.log(
  JSON.stringify({
    statusCode: response.statusCode,
    status: response.status,
    contentType,
    setCookie: response.headers['set-cookie'] ?? null,
    allArrays: Object.values(response.headers).every(Array.isArray),
    finalUrl: response.finalUrl,
    requestId: response.requestId,
    bodyIsReadable: response.body instanceof Readable,
    text: await response.text(),
  }),
);
await client.close();
