import CycleTLS from 'cycletls';

const client = new CycleTLS();
const response = await client.get(process.env.JSON_URL, {
  ja3: process.env.JA3,
  userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36',
});

const statusCode = response.statusCode; // HTTP status code
const text = await response.text(); // Get full body as text
const json = await response.json(); // Parse body as JSON
await client.close();
console.log(JSON.stringify({ statusCode, text, json }));
