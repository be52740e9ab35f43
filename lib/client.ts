// initCycleTLS: a client in cycletls 2.0.5's call shapes (a function with a method per HTTP
// method, ws(), sse(), exit(), close(), stats()) on the process's shared engine instance.
import { CycleTLSError } from './errors';
import { acquireInstance } from './instance';
import type { ClientState, SharedInstance } from './instance';
import { loadAddon } from './native';
import { openEventSource } from './open-event-source';
import { openWebSocket } from './open-websocket';
import type { WebSocketContext } from './open-websocket';
import { normalizeInit } from './init-options';
import type { NormalizedInit } from './init-options';
import { HTTP_METHODS } from './options';
import { perform } from './request';
import type { CycleTLSResponseShape } from './response';

type ClientFn = ((url: string, options?: object, method?: string) => Promise<CycleTLSResponseShape>) &
  Record<string, unknown>;

/** A client of the process's engine, as every door (initCycleTLS, new CycleTLS, fetch) opens one. */
export interface ClientConnection {
  instance: SharedInstance;
  client: ClientState;
  init: NormalizedInit;
  wsContext: WebSocketContext;
}

export async function connectClient(initOptions?: unknown): Promise<ClientConnection> {
  const init = normalizeInit(initOptions);
  loadAddon();
  const instance = acquireInstance(init.port, init.share, init.engine);
  await instance.ready;
  const client = instance.addClient(init.clientLimits);
  const wsContext: WebSocketContext = {
    instance,
    client,
    cookieJar: init.cookieJar,
    rejectOnError: init.rejectOnError,
    dns: init,
    requestId: () => `${client.id}:${client.nextSeq++}`,
  };
  return { instance, client, init, wsContext };
}

export async function initCycleTLS(initOptions?: unknown): Promise<ClientFn> {
  const { instance, client, init, wsContext } = await connectClient(initOptions);
  const request = (
    url: unknown,
    options?: unknown,
    method: unknown = 'get',
  ): Promise<CycleTLSResponseShape> => perform(instance, client, init, url, options, method);
  const fn = ((url: string, options?: object, method?: string) =>
    request(url, options, method ?? 'get')) as ClientFn;
  for (const m of HTTP_METHODS) fn[m] = (url: unknown, options?: unknown) => request(url, options, m);
  fn.ws = (url: unknown, options?: unknown) => openWebSocket(wsContext, url, options);
  fn.webSocket = fn.ws;
  fn.sse = (url: unknown, options?: unknown) =>
    openEventSource(
      (u, o, adjust) => perform(instance, client, init, u, o, 'get', adjust),
      url,
      options,
      init,
    );
  fn.eventSource = fn.sse;
  fn.exit = async (): Promise<undefined> => {
    await instance.removeClient(client);
    return undefined;
  };
  fn.close = async (options?: unknown): Promise<undefined> => {
    let graceMs = 0;
    if (options !== undefined && options !== null) {
      const g = typeof options === 'object' ? (options as { graceMs?: unknown }).graceMs : options;
      if (g !== undefined && (typeof g !== 'number' || !Number.isFinite(g) || g < 0)) {
        throw new CycleTLSError(
          'ERR_INVALID_OPTION',
          `option "graceMs" must be a non-negative number of milliseconds, got ${String(g)}`,
          'options',
        );
      }
      graceMs = (g as number | undefined) ?? 0;
    }
    await instance.drainClient(client, graceMs);
    return undefined;
  };
  fn.stats = () => {
    const { share, ...engine } = instance.stats();
    return {
      clientId: client.id,
      port: instance.port,
      role: share
        ? share.role === 'host' || share.role === 'client'
          ? share.role
          : share.role === 'electing'
            ? 'electing'
            : 'stopped'
        : 'local',
      requestsPending: client.pending.size,
      engine: { ...engine, reuseRatio: engine.exchanges > 0 ? engine.exchangesReused / engine.exchanges : 0 },
      origins: instance.originStats(),
      link: share
        ? {
            state: share.link,
            streamsInFlight: share.streamsInFlight,
            waitingForHost: share.pending,
            elections: share.elections,
            reconnects: share.reconnects,
            retried: share.retried,
            hostGone: share.hostGone,
            hostPid: share.hostPid,
            peersOpen: share.peersOpen,
            peersAccepted: share.peersAccepted,
            peersRefused: share.peersRefused,
          }
        : null,
    };
  };
  fn.clientId = client.id;
  return fn;
}
