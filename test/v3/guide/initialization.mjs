import CycleTLS from 'cycletls';

const client = new CycleTLS({
  port: Number(process.env.ENGINE_PORT),
  debug: false,
  timeout: 30000,
  executablePath: '/path/to/binary',
  autoSpawn: true, // cycletls's Go process: nothing to spawn here
  initialWindow: 65536, // its credit window: our engine's own read-ahead applies
  creditThreshold: 32768,
});
const isSync = !(client instanceof Promise);
const response = await client.get(process.env.JSON_URL);
console.log(JSON.stringify({ isSync, statusCode: response.statusCode }));
await client.close();
