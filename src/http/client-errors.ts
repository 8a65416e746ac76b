import { type Server as HttpServer, STATUS_CODES } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import { TesseraError } from "../errors.js";
import { errorJson } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { METRIC } from "./server-metrics.js";

/** What Node's HTTP parser or its timers report about a connection before (or instead of) a request. */
export function clientErrorToTessera(err: { code?: string }): TesseraError {
  switch (err.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new TesseraError("request_timeout", "the request did not arrive in time");
    case "HPE_HEADER_OVERFLOW":
      return new TesseraError("headers_too_large", "request headers are too large");
    default:
      return new TesseraError("bad_request", "malformed HTTP request");
  }
}

/** A whole HTTP/1.1 response that closes the connection, written straight to a socket. */
export function rawErrorResponse(error: TesseraError): string {
  const body = errorJson(error);
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}\r\n` +
    "Content-Type: application/json; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

/**
 * Answers what never became a request — a malformed request line, headers
 * too large, a client too slow (see slow-clients.ts) — with the same JSON
 * error body as every other failure, where Node would send a bare status
 * line. As Node does, nothing is written once a response has begun on the
 * connection, and the connection is closed either way.
 */
export function answerClientErrors(server: HttpServer | HttpsServer, metrics: Metrics): void {
  server.on("clientError", (err: Error & { code?: string }, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
      const error = clientErrorToTessera(err);
      metrics.count(METRIC.httpErrors, { code: error.code });
      socket.write(rawErrorResponse(error));
    }
    socket.destroy();
  });
}
