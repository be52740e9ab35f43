// One shared native engine per port in this process, reference-counted by live clients. Each client
// has its own id; each request an engine id unique by construction (a per-engine counter), and
// events are routed back by that id to exactly the handlers of the request that sent it.
// Across processes (unless disabled) the native side elects one host per port: this process either
// hosts the engine or sends its requests to the process that does; `ready` settles once decided.
import { CycleTLSError, isErrorCode } from './errors';
import type { ErrorStage } from './errors';
import { EventType, loadAddon } from './native';
import type {
  HeadEvent,
  NativeEngine,
  NativeEngineOptions,
  NativeEngineStats,
  NativeEvent,
  NativeOriginStats,
  NativeRequestSpec,
  NativeShareOptions,
} from './native';

export interface ExchangeHandlers {
  head(event: HeadEvent): void;
  body(chunk: Buffer): void;
  end(): void;
  error(err: CycleTLSError): void;
  /** Bytes of a streamed request body that left for the server. */
  sent?(bytes: number): void;
}

export interface ClientState {
  readonly id: number;
  nextSeq: number;
  closed: boolean;
  /** close() was called: new requests are refused while the ones in flight finish. */
  draining?: boolean;
  /** Called when its last request settles (close() waiting for them). */
  onIdle?: () => void;
  readonly pending: Set<number>;
}

const instances = new Map<number, SharedInstance>();
let nextClientId = 1;

/** `share` undefined: this process keeps its engine to itself (the port only names it). */
export function acquireInstance(
  port: number,
  share?: NativeShareOptions,
  engine: NativeEngineOptions = {},
): SharedInstance {
  let instance = instances.get(port);
  if (!instance) {
    instance = new SharedInstance(port, share, engine);
    instances.set(port, instance);
    // A port we could not use is not remembered: the next initCycleTLS tries again.
    instance.ready.catch(() => {
      if (instances.get(port) === instance) instances.delete(port);
    });
  }
  return instance;
}

/** A user's stream listener threw inside our dispatch: surfaced without losing the rest of the batch. */
function surface(err: unknown): void {
  void Promise.reject(err);
}

export class SharedInstance {
  readonly port: number;
  private readonly engine: NativeEngine;
  private readonly handlers = new Map<number, { client: ClientState; handlers: ExchangeHandlers }>();
  private readonly clients = new Set<ClientState>();
  private nextRequestId = 1;
  private closed = false;
  /** Resolves once this process hosts the engine or is connected to the process that does. */
  readonly ready: Promise<void>;
  private settleReady?: (err?: CycleTLSError) => void;
  private role: 'host' | 'client' | 'local' = 'local';

  constructor(port: number, share?: NativeShareOptions, engineOptions: NativeEngineOptions = {}) {
    this.port = port;
    const { NativeEngine: Engine } = loadAddon();
    if (!share) {
      this.engine = new Engine((batch) => this.dispatch(batch), engineOptions);
      this.ready = Promise.resolve();
      return;
    }
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => {
        this.settleReady = undefined;
        if (err) reject(err);
        else resolve();
      };
    });
    // Unhandled only if nobody awaits it; initCycleTLS always does.
    this.ready.catch(() => undefined);
    this.engine = new Engine((batch) => this.dispatch(batch), { ...engineOptions, share });
  }

  /** 'host' (this process runs the engine), 'client' (another process does) or 'local' (not shared). */
  get currentRole(): 'host' | 'client' | 'local' {
    return this.role;
  }

  addClient(limits?: { maxInFlight: number; maxQueued: number }): ClientState {
    const client: ClientState = { id: nextClientId++, nextSeq: 1, closed: false, pending: new Set() };
    this.clients.add(client);
    if (limits) this.engine.setClientLimits(client.id, limits);
    return client;
  }

  /** Starts a request; returns its engine id (for cancel/pause). */
  submit(client: ClientState, spec: NativeRequestSpec, handlers: ExchangeHandlers): number {
    if (client.closed || client.draining || this.closed) {
      throw new CycleTLSError(
        'ERR_CLIENT_CLOSED',
        'the client was closed (exit() or close() was called)',
        'queue',
      );
    }
    const id = this.nextRequestId++;
    this.handlers.set(id, { client, handlers });
    client.pending.add(id);
    try {
      // The spec is the exchange's own (toSpec made it): tagged in place, not copied.
      spec.clientId = client.id;
      this.engine.request(id, spec);
    } catch (err) {
      this.handlers.delete(id);
      client.pending.delete(id);
      // The addon's coded refusals keep their code (a fingerprint it cannot build; ERR_INTERNAL: a
      // packed spec lib should never have sent); its TypeErrors are a spec's bad field.
      const code = (err as { code?: unknown }).code;
      throw new CycleTLSError(
        code === 'ERR_UNSUPPORTED_FINGERPRINT' || code === 'ERR_INTERNAL' ? code : 'ERR_INVALID_OPTION',
        (err as Error).message,
        'options',
      );
    }
    return id;
  }

  cancel(id: number): void {
    if (this.handlers.has(id)) this.engine.cancel(id);
  }

  pause(id: number, paused: boolean): void {
    if (this.handlers.has(id)) this.engine.pause(id, paused);
  }

  /** More of a streamed body (null: its end); ignored once the request settled. */
  write(id: number, chunk: Uint8Array | null): void {
    if (this.handlers.has(id)) this.engine.write(id, chunk);
  }

  /** A masked WebSocket frame for an upgraded connection (see NativeEngine.writeMasked). */
  writeMasked(id: number, header: Uint8Array, payload: Uint8Array): void {
    if (this.handlers.has(id)) this.engine.writeMasked(id, header, payload);
  }

  stats(): NativeEngineStats & { clients: number } {
    return { ...this.engine.stats(), clients: this.clients.size };
  }

  originStats(): NativeOriginStats[] {
    return this.engine.originStats();
  }

  /**
   * close({graceMs}) of one client: it takes no new requests; its requests in flight may finish
   * within the grace period, then whatever is left settles with ERR_CLIENT_CLOSED.
   */
  async drainClient(client: ClientState, graceMs: number): Promise<void> {
    client.draining = true;
    if (graceMs > 0 && client.pending.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, graceMs);
        client.onIdle = done;
        function done(): void {
          clearTimeout(timer);
          client.onIdle = undefined;
          resolve();
        }
      });
    }
    await this.removeClient(client);
  }

  private notice(notice: string, code: string | undefined, message: string | undefined): void {
    switch (notice) {
      case 'host':
      case 'client':
        this.role = notice;
        this.settleReady?.();
        break;
      case 'failed': {
        const errorCode = code && isErrorCode(code) ? code : 'ERR_INTERNAL';
        const err = new CycleTLSError(errorCode, message ?? 'the shared engine could not start', 'link');
        this.closed = true;
        this.settleReady?.(err);
        this.engine.close(() => undefined);
        break;
      }
      case 'warning':
        // Someone unauthorised knocked on the port, or a client broke the protocol: the user should
        // hear of it, through Node's own channel (process.on('warning') can route or silence it).
        process.emitWarning(message ?? 'cycletls-native link warning', { code: 'CYCLETLS_NATIVE_LINK' });
        break;
    }
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
    if (this.clients.size > 0) {
      this.engine.cancelClient(client.id); // forgets its limits (its requests are settled above)
      return Promise.resolve();
    }
    this.closed = true;
    if (instances.get(this.port) === this) instances.delete(this.port);
    return new Promise((resolve) => this.engine.close(resolve));
  }

  private dispatch(batch: NativeEvent[]): void {
    for (const event of batch) {
      if (event.type === EventType.Notice) {
        this.notice(event.notice, event.code, event.message);
        continue;
      }
      const entry = this.handlers.get(event.id);
      if (!entry) continue;
      const { handlers } = entry;
      try {
        switch (event.type) {
          case EventType.Head: {
            // The body and the end that came with the head (a buffered response is mostly all three),
            // each step as if it were an event of its own.
            const { data, ended } = event;
            event.data = undefined; // the head may be kept longer than its first bytes
            try {
              handlers.head(event);
            } catch (err) {
              surface(err);
            }
            if (data !== undefined) {
              try {
                handlers.body(data);
              } catch (err) {
                surface(err);
              }
            }
            if (ended) this.ended(event.id, entry);
            break;
          }
          case EventType.Body:
            handlers.body(event.data);
            break;
          case EventType.Sent:
            handlers.sent?.(event.bytes);
            break;
          case EventType.End:
            this.ended(event.id, entry);
            break;
          case EventType.Error: {
            this.handlers.delete(event.id);
            entry.client.pending.delete(event.id);
            const code = isErrorCode(event.code) ? event.code : 'ERR_INTERNAL';
            handlers.error(new CycleTLSError(code, event.message, event.stage as ErrorStage));
            if (entry.client.pending.size === 0) entry.client.onIdle?.();
            break;
          }
        }
      } catch (err) {
        surface(err);
      }
    }
  }

  private ended(id: number, entry: { client: ClientState; handlers: ExchangeHandlers }): void {
    const { client } = entry;
    this.handlers.delete(id);
    client.pending.delete(id);
    entry.handlers.end();
    if (client.pending.size === 0) client.onIdle?.();
  }
}
