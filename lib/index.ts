// The package's entry: initCycleTLS (lib/client.ts) in cycletls's module shape, and what it exports
// besides. Nothing else lives here.
import { initCycleTLS } from './client';
import { CycleTLSError, errorCodes } from './errors';
import { nativeBinding } from './native';

export { CycleTLSError, errorCodes, nativeBinding };

// cycletls's module shape: require(), require().default and an ESM default import all work.
const exported = Object.assign(initCycleTLS, {
  default: initCycleTLS,
  initCycleTLS,
  CycleTLSError,
  errorCodes,
  nativeBinding,
  __esModule: true as const,
});
export default initCycleTLS;
module.exports = exported;
