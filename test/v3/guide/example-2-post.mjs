import CycleTLS from 'cycletls';

const client = new CycleTLS();
const response = await client.post(process.env.JSON_URL, JSON.stringify({ name: 'Alice' }), {
  headers: { 'Content-Type': 'application/json' },
});
console.log(JSON.stringify({ statusCode: response.statusCode, json: await response.json() }));
await client.close();
