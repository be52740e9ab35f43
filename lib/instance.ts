// One shared native engine per port in this process, reference-counted by live clients. Each client
// has its own id; each request an engine id unique by construction (a per-engine counter), and
// events are routed back by that id to exactly the handlers of the request that sent it.
import { CycleTLSError, isErrorCode } from './errors';
import type { ErrorStage } from './errors';
import { EventType, loadAddon } from './native';
import type { HeadEvent, NativeEngine, NativeEngineStats, NativeEvent, NativeRequestSpec } from './native';

export interface ExchangeHandlers {
  head(event: HeadEvent): void;
  body(chunk: Buffer): void;
  end(): void;
  error(err: CycleTLSError): void;
}

export interface ClientState {
  readonly id: number;
  nextSeq: number;
  closed: boolean;
  readonly pending: Set<number>;
}

const instances = new Map<number, SharedInstance>();
let nextClientId = 1;

export function acquireInstance(port: number): SharedInstance {
  let instance = instances.get(port);
  if (!instance) {
    instance = new SharedInstance(port);
    instances.set(port, instance);
  }
  return instance;
}

export class SharedInstance {
  readonly port: number;
  private readonly engine: NativeEngine;
  private readonly handlers = new Map<number, { client: ClientState; handlers: ExchangeHandlers }>();
  private readonly clients = new Set<ClientState>();
  private nextRequestId = 1;
  private closed = false;

  constructor(port: number) {
    this.port = port;
    const { NativeEngine: Engine } = loadAddon();
    this.engine = new Engine((batch) => this.dispatch(batch));
  }

  addClient(): ClientState {
    const client: ClientState = { id: nextClientId++, nextSeq: 1, closed: false, pending: new Set() };
    this.clients.add(client);
    return client;
  }

  /** Starts a request; returns its engine id (for cancel/pause). */
  submit(client: ClientState, spec: NativeRequestSpec, handlers: ExchangeHandlers): number {
    if (client.closed || this.closed) throw new CycleTLSError('ERR_CLIENT_CLOSED', 'the client was closed (exit() was called)', 'queue');
    const id = this.nextRequestId++;
    this.handlers.set(id, { client, handlers });
    client.pending.add(id);
    try {
      this.engine.request(id, spec);
    } catch (err) {
      this.handlers.delete(id);
      client.pending.delete(id);
      const unsupported = (err as { code?: unknown }).code === 'ERR_UNSUPPORTED_FINGERPRINT';
      throw new CycleTLSError(unsupported ? 'ERR_UNSUPPORTED_FINGERPRINT' : 'ERR_INVALID_OPTION', (err as Error).message, 'options');
    }
    return id;
  }

  cancel(id: number): void {
    if (this.handlers.has(id)) this.engine.cancel(id);
  }

  pause(id: number, paused: boolean): void {
    if (this.handlers.has(id)) this.engine.pause(id, paused);
  }

  stats(): NativeEngineStats & { clients: number } {
    return { ...this.engine.stats(), clients: this.clients.size };
  }

  /** exit() of one client: settles only its own requests, and closes the engine after the last one. */
  removeClient(client: ClientState): Promise<void> {
    if (client.closed) return Promise.resolve();
    client.closed = true;
    const err = new CycleTLSError('ERR_CLIENT_CLOSED', 'the client was closed (exit() was called)', 'engine');
    for (const id of client.pending) {
      const entry = this.handlers.get(id);
      this.handlers.delete(id);
      this.engine.cancel(id);
      entry?.handlers.error(err);
    }
    client.pending.clear();
    this.clients.delete(client);
    if (this.clients.size > 0) return Promise.resolve();
    this.closed = true;
    if (instances.get(this.port) === this) instances.delete(this.port);
    return new Promise((resolve) => this.engine.close(resolve));
  }

  private dispatch(batch: NativeEvent[]): void {
    for (const event of batch) {
      const entry = this.handlers.get(event.id);
      if (!entry) continue;
      const { handlers, client } = entry;
      try {
        switch (event.type) {
          case EventType.Head: handlers.head(event); break;
          case EventType.Body: handlers.body(event.data); break;
          case EventType.End:
            this.handlers.delete(event.id);
            client.pending.delete(event.id);
            handlers.end();
            break;
          case EventType.Error: {
            this.handlers.delete(event.id);
            client.pending.delete(event.id);
            const code = isErrorCode(event.code) ? event.code : 'ERR_INTERNAL';
            handlers.error(new CycleTLSError(code, event.message, event.stage as ErrorStage));
            break;
          }
        }
      } catch (err) {
        // A user's stream listener threw inside our dispatch: surface it without losing the batch.
        void Promise.reject(err);
      }
    }
  }
}
