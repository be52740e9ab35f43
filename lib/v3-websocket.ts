// The WebSocket of cycletls v3's client.ws(): the `ws` package's socket shape (an EventEmitter with
// open/message(data, isBinary)/close(code, reason Buffer)/error/ping/pong, send(data, [options],
// [cb]), ping, pong, close, terminate and its properties) over ws()'s session (lib/open-websocket.ts).
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';

import type { WebSocketResponseShape } from './open-websocket';
import type { WsMessage } from './ws-protocol';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments';

type Callback = (err?: Error) => void;
type SendData = string | Buffer | ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

const BINARY_TYPES: readonly string[] = ['nodebuffer', 'arraybuffer', 'fragments'];

export class CycleTLSWebSocket extends EventEmitter {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  private binaryTypeValue: BinaryType = 'nodebuffer';
  private opened = false;
  private reading = false;

  /** The upgrade's response (status, headers, tls, connection…), as ws()'s legacy shape has it. */
  readonly response: WebSocketResponseShape;

  constructor(
    readonly url: string,
    socket: WebSocketResponseShape,
  ) {
    super();
    this.response = socket;
    socket.onClose((code, reason) => this.emit('close', code, Buffer.from(reason, 'utf8')));
    // An 'error' with no listener would throw out of the engine's callback: the close (1006) tells it.
    socket.onError((err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    socket.onPing((data) => this.emit('ping', data));
    socket.onPong((data) => this.emit('pong', data));
    // Messages wait in the session (which stops reading past its queue limit) until a 'message'
    // listener exists: the socket is already open when client.ws() resolves, and the caller attaches
    // its listeners after that.
    this.on('newListener', (event: string | symbol) => {
      if (event !== 'message' || this.reading) return;
      this.reading = true;
      queueMicrotask(() => socket.onMessage((m) => this.deliver(m)));
    });
  }

  /**
   * 'open' comes once the caller could attach its listeners: after client.ws() resolved and the
   * code awaiting it ran on (a macrotask later, so a microtask's worth of awaits is not too late).
   */
  announceOpen(): void {
    if (this.opened) return;
    this.opened = true;
    setImmediate(() => {
      if (this.response.readyState === 1) this.emit('open');
    });
  }

  get readyState(): number {
    return this.response.readyState;
  }

  get protocol(): string {
    return this.response.subprotocol;
  }

  get extensions(): string {
    return this.response.extensions;
  }

  get bufferedAmount(): number {
    return this.response.bufferedAmount;
  }

  get binaryType(): BinaryType {
    return this.binaryTypeValue;
  }

  set binaryType(value: BinaryType) {
    // As the ws package: an unknown value is ignored.
    if (BINARY_TYPES.includes(value)) this.binaryTypeValue = value;
  }

  /**
   * As the ws package: `options.binary` says the frame type (default: binary for bytes, text for a
   * string); `cb(err)` runs once the message is with the connection, or failed. Without a callback a
   * failure goes to 'error' listeners.
   */
  send(data: SendData, options?: { binary?: boolean } | Callback, cb?: Callback): void {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    const binary = options?.binary ?? typeof data !== 'string';
    this.settle(this.response.send(data, binary), cb);
  }

  ping(data?: Buffer | string, _mask?: boolean | Callback, cb?: Callback): void {
    if (typeof _mask === 'function') cb = _mask;
    this.settle(this.response.ping(data), cb);
  }

  pong(data?: Buffer | string, _mask?: boolean | Callback, cb?: Callback): void {
    if (typeof _mask === 'function') cb = _mask;
    this.settle(this.response.pong(data), cb);
  }

  /** The closing handshake; 'close' follows. */
  close(code?: number, reason?: string | Buffer): void {
    const text = Buffer.isBuffer(reason) ? reason.toString('utf8') : reason;
    this.settle(this.response.close(code, text), undefined);
  }

  /** Ends the connection at once; 'close' follows with 1006. */
  terminate(): void {
    this.response.terminate();
  }

  private deliver(m: WsMessage): void {
    const isBinary = m.type === 'binary';
    const bytes = typeof m.data === 'string' ? Buffer.from(m.data, 'utf8') : m.data;
    let data: Buffer | ArrayBuffer | Buffer[] = bytes;
    if (this.binaryTypeValue === 'arraybuffer') {
      data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } else if (this.binaryTypeValue === 'fragments') {
      data = [bytes];
    }
    this.emit('message', data, isBinary);
  }

  private settle(p: Promise<void>, cb: Callback | undefined): void {
    p.then(
      () => cb?.(),
      (err: Error) => {
        if (cb) cb(err);
        else if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    );
  }
}
