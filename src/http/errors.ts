import type { ErrorRequestHandler, Response } from "express";
import type { Logger } from "pino";
import { isTesseraError, TesseraError } from "../errors.js";
import type { Metrics } from "./metrics.js";
import { METRIC } from "./server-metrics.js";

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

/**
 * The one place where errors become HTTP responses: Tessera errors keep their
 * code and status; anything unexpected is a 500 that is logged, never shown.
 */
export function toHttpError(err: unknown, logger: Logger, metrics: Metrics, path: string): TesseraError {
  const known = isTesseraError(err) ? err : fromBodyParser(err as { type?: string });
  metrics.count(METRIC.httpErrors, { code: known?.code ?? "internal" });
  if (!known || known.status >= 500) logger.error({ err, path }, "request failed");
  return known ?? new TesseraError("internal", "internal error");
}

export function errorJson(error: TesseraError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}

export function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (err, req, res, _next) => sendError(res, toHttpError(err, logger, metrics, req.path));
}
