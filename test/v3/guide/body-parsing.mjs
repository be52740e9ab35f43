import CycleTLS from 'cycletls';

const client = new CycleTLS();
const url = process.env.JSON_URL;
const chunks = [];
const process_ = (chunk) => chunks.push(chunk.length);

// JSON
const data = await (await client.get(url)).json();
// Text
const text = await (await client.get(url)).text();
// ArrayBuffer
const buffer = await (await client.get(url)).arrayBuffer();
// Blob
const blob = await (await client.get(url)).blob();
// Buffer
const nodeBuffer = await (await client.get(url)).buffer();
// Stream (default - body is already a stream)
const response = await client.get(process.env.BYTES_URL);
for await (const chunk of response.body) {
  process_(chunk);
}

console.log(
  JSON.stringify({
    dataMethod: data.method,
    textLength: text.length,
    arrayBuffer: buffer instanceof ArrayBuffer && buffer.byteLength === text.length,
    blob: { size: blob.size, type: blob.type },
    nodeBuffer: Buffer.isBuffer(nodeBuffer) && nodeBuffer.length === text.length,
    streamed: chunks.reduce((a, b) => a + b, 0),
  }),
);
await client.close();
