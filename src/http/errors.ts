import type { ErrorRequestHandler, Response } from "express";
import type { Logger } from "pino";
import { isTesseraError, TesseraError } from "../errors.js";
import type { Metrics } from "./metrics.js";

export function sendError(res: Response, error: TesseraError): void {
  for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
  res.status(error.status).json({ error: { code: error.code, message: error.message } });
}

/** Maps body-parser's failures to Tessera errors. */
function fromBodyParser(err: { type?: string; status?: number; message?: string }): TesseraError | undefined {
  switch (err.type) {
    case "entity.too.large":
      return new TesseraError("payload_too_large", "request body is too large");
    case "entity.parse.failed":
      return new TesseraError("bad_request", "request body is not valid JSON");
    case "encoding.unsupported":
    case "charset.unsupported":
      return new TesseraError("unsupported_media_type", "request body encoding is not supported");
    case "request.aborted":
    case "request.size.invalid":
    case "stream.encoding.set":
      return new TesseraError("bad_request", "request body could not be read");
    default:
      if (typeof err.status === "number" && err.status >= 400 && err.status < 500) {
        return new TesseraError("bad_request", "request could not be read");
      }
      return undefined;
  }
}

/** The one place where errors become HTTP responses. Unknown errors are 500 and logged, never shown. */
export function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = isTesseraError(err) ? err : fromBodyParser(err as { type?: string });
    if (known && known.status < 500) {
      metrics.count("tessera_http_errors_total", { code: known.code });
      sendError(res, known);
      return;
    }
    metrics.count("tessera_http_errors_total", { code: known?.code ?? "internal" });
    logger.error({ err, path: req.path }, "request failed");
    sendError(res, known ?? new TesseraError("internal", "internal error"));
  };
}
