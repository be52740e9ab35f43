import CycleTLS, { CycleTLSError } from 'cycletls';

const client = new CycleTLS();
const logged = [];
const console_ = { error: (...args) => logged.push(args.join(' ')) };

for (const url of [process.env.NOT_FOUND_URL, process.env.REFUSED_URL]) {
  try {
    const response = await client.get(url);
    if (response.statusCode >= 400) {
      console_.error(`HTTP ${response.statusCode}: ${await response.text()}`);
    }
  } catch (error) {
    if (error instanceof CycleTLSError) {
      console_.error(`Error ${error.statusCode}: ${error.message}`);
    } else {
      console_.error('Request failed:', error.message);
    }
  }
}
console.log(JSON.stringify({ logged }));
await client.close();
