import CycleTLS from 'cycletls';

const client = new CycleTLS();
const url = process.env.JSON_URL;
const options = { headers: { 'X-Example': 'yes' } };
const body = JSON.stringify({ hello: 'world' });

// Method 1: .request()
const r1 = await client.request({
  url: url,
  method: 'GET',
  headers: { Accept: 'application/json' },
});
// Method 2: convenience methods
const r2 = await client.get(url, options);
const r3 = await client.post(url, body, options);

console.log(
  JSON.stringify({
    r1: await r1.json(),
    r2: await r2.json(),
    r3: await r3.json(),
    callable: typeof client === 'function',
  }),
);
await client.close();
