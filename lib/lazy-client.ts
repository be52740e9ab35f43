// A client of the engine opened on first use, for the doors whose constructor or factory is
// synchronous (new CycleTLS(), createFetch(), the module-level fetch): its failure (e.g.
// ERR_NATIVE_UNAVAILABLE) is kept and given to every request; close() lets its engine go.
import { connectClient } from './client';
import type { ClientConnection } from './client';
import { CycleTLSError } from './errors';

export class LazyClient {
  private connection: Promise<ClientConnection> | undefined;
  private closed = false;

  constructor(private readonly initOptions: unknown) {}

  get(): Promise<ClientConnection> {
    if (this.closed)
      return Promise.reject(new CycleTLSError('ERR_CLIENT_CLOSED', 'the client was closed', 'queue'));
    this.connection ??= connectClient(this.initOptions);
    return this.connection;
  }

  /** Settles the client's requests with ERR_CLIENT_CLOSED; the last client lets the engine go. */
  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    if (!connection) return;
    let c: ClientConnection;
    try {
      c = await connection;
    } catch {
      return; // it never connected: nothing to close
    }
    await c.instance.drainClient(c.client, 0);
  }
}
