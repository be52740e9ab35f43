// The WebSocket protocol (RFC 6455, RFC 7692), transport-agnostic: what ws()/webSocket() wire to
// the engine's upgraded connection (lib/open-websocket.ts holds the public ws()).
export {
  FrameParser,
  WsProtocolError,
  encodeFrame,
  isValidCloseCode,
  closePayload,
  parseClosePayload,
  OP_CONTINUATION,
  OP_TEXT,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
} from './frame';
export type { WsFrame, FrameParserOptions, EncodeOptions } from './frame';
export { PerMessageDeflate, deflateOffer, parseDeflateResponse, parseExtensionList } from './deflate';
export type { NegotiatedDeflate, DeflateTuning } from './deflate';
export { createKey, acceptFor, handshakeHeaders, offeredProtocols, verifyHandshake } from './handshake';
export type { BrowserFamily, HandshakeOptions, HandshakeResult, VerifyOptions } from './handshake';
export { WebSocketSession, CONNECTING, OPEN, CLOSING, CLOSED } from './session';
export type { WsTransport, WsMessage, WebSocketSessionOptions } from './session';
