import CycleTLS from 'cycletls';

const client = new CycleTLS();
const response = await client.request({
  url: process.env.ECHO_URL,
  ja3: process.env.JA3,
  userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36',
});
const seen = await response.json();
console.log(JSON.stringify({ statusCode: response.statusCode, ja3: seen.ja3, userAgent: seen.user_agent }));
await client.close();
