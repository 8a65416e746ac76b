/**
 * Options that bound what a slow or idle client can hold: the TLS handshake,
 * the request headers and the whole request (headers and body) must each
 * arrive within `timeoutMs`, or the connection is closed (with a 408 once HTTP
 * has begun). Node's defaults (120 s for a handshake, 60 s for headers, 300 s
 * for a request, swept every 30 s) let a few thousand trickling connections
 * pin a CA's sockets and memory.
 */
export function slowClientLimits(timeoutMs: number): {
  handshakeTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    handshakeTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4))),
  };
}
