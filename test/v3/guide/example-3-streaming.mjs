import CycleTLS from 'cycletls';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const client = new CycleTLS();
const file = createWriteStream(process.env.OUT_FILE);
const writeToFile = async (chunk) => {
  if (!file.write(chunk)) await once(file, 'drain');
};

const response = await client.get(process.env.LARGE_URL);

// Streams with flow control - memory bounded
for await (const chunk of response.body) {
  await writeToFile(chunk);
  // Server waits for client to consume before sending more
}
file.end();
await once(file, 'finish');
console.log(JSON.stringify({ statusCode: response.statusCode }));
await client.close();
