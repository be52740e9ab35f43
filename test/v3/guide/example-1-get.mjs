import CycleTLS from 'cycletls';

const client = new CycleTLS();
const response = await client.get(process.env.JSON_URL, {
  headers: { Authorization: 'Bearer token' },
});

const statusCode = response.statusCode;
const json = await response.json(); // Parsed JSON
await client.close();
console.log(JSON.stringify({ statusCode, json }));
