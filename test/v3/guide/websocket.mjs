import CycleTLS from 'cycletls';

const client = new CycleTLS();
const seen = [];
const ws = await client.ws(process.env.WS_URL, {
  ja3: process.env.JA3,
});
const properties = {
  url: ws.url,
  readyState: ws.readyState,
  protocol: ws.protocol,
  extensions: ws.extensions,
  bufferedAmount: ws.bufferedAmount,
  binaryType: ws.binaryType,
};
const buffer = Buffer.from([1, 2, 3]);
const closed = new Promise((resolve) => {
  // Receive messages (EventEmitter pattern)
  ws.on('open', () => {
    seen.push('open');
    // Send message (ws-library style)
    ws.send('hello', (err) => {
      if (err) seen.push(`send error ${err.message}`);
    });
    ws.send(buffer, { binary: true });
  });

  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      seen.push(`binary ${[...data].join(',')}`);
      // Close connection
      ws.close(1000, 'Done');
    } else {
      seen.push(`text ${data.toString()}`);
    }
  });

  ws.on('close', (code, reason) => {
    seen.push(`close ${code} ${reason}`);
    resolve();
  });

  ws.on('error', (error) => {
    seen.push(`error ${error.message}`);
  });
});
await closed;
console.log(JSON.stringify({ seen, properties, readyState: ws.readyState }));
await client.close();
