import CycleTLS from 'cycletls';

const client = new CycleTLS();
const iterated = [];
const called = [];

// Method 1: Async iterator
const sse = await client.sse(process.env.SSE_URL, {});
for await (const event of sse.events()) {
  iterated.push({ id: event.id, event: event.event, data: event.data, retry: event.retry ?? null });
}
await sse.close();

// Method 2: Callback
const sse2 = await client.sse(process.env.SSE_URL, {});
const done = new Promise((resolve) => {
  sse2.onEvent((event) => {
    called.push(event.data);
    if (called.length === 3) resolve();
  });
});
sse2.onError((error) => {
  called.push(`error ${error.message}`);
});
await done;
await sse2.close();

console.log(JSON.stringify({ statusCode: sse.statusCode, iterated, called }));
await client.close();
