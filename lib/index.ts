// The package's entry: initCycleTLS (lib/client.ts) in cycletls's module shape, and what it exports
// besides. Nothing else lives here.
import { initCycleTLS as startLegacyClient } from './client';
import { CycleTLSError, errorCodes } from './errors';
import { createFetch, fetch } from './fetch';
import { nativeBinding } from './native';
import { CycleTLS } from './v3-client';

export { CycleTLSError, errorCodes, nativeBinding, CycleTLS, fetch, createFetch };

/**
 * The default export serves both of cycletls's styles: called, the legacy client's promise
 * (`await initCycleTLS()`); with `new`, cycletls v3's client (`new CycleTLS()`).
 */
function initCycleTLS(this: unknown, initOptions?: unknown): ReturnType<typeof startLegacyClient> {
  if (new.target) return new CycleTLS(initOptions) as never;
  return startLegacyClient(initOptions);
}
// `new initCycleTLS() instanceof initCycleTLS` holds, as it does for the class.
initCycleTLS.prototype = CycleTLS.prototype;

export { initCycleTLS };

// cycletls's module shape: require(), require().default and an ESM default import all work.
const exported = Object.assign(initCycleTLS, {
  default: initCycleTLS,
  initCycleTLS,
  CycleTLS,
  CycleTLSError,
  errorCodes,
  nativeBinding,
  fetch,
  createFetch,
  __esModule: true as const,
});
export default initCycleTLS;
module.exports = exported;
