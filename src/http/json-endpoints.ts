import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { TesseraError } from "../errors.js";
import type { HttpDeps } from "./deps.js";
import { errorJson, toHttpError } from "./errors.js";

/** A POST endpoint taking and returning JSON: the hot issuance paths. */
export interface JsonEndpoint {
  path: string;
  /** Subject to the per-client rate limit. */
  limited: boolean;
  handle(body: Record<string, unknown>, socket: TLSSocket): Promise<{ status: number; body: unknown }>;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new TesseraError("payload_too_large", "request body is too large"));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new TesseraError("payload_too_large", "request body is too large"));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks, size)));
    req.on("error", () => reject(new TesseraError("bad_request", "request body could not be read")));
  });
}

/**
 * Serves the JSON endpoints directly on node:http, ahead of express: the
 * issuance paths are hot, and express's router and body parser cost about a
 * tenth of each request there. Same contract as everything else — bounded
 * body, JSON media type, rate limit, and errors mapped by `toHttpError`.
 * Returns a handler that answers its paths and returns false for the rest.
 */
export function jsonEndpoints(endpoints: JsonEndpoint[], deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const byPath = new Map(endpoints.map((e) => [e.path, e]));
  const send = (res: ServerResponse, status: number, json: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(json),
      ...headers,
    });
    res.end(json);
  };
  const serve = async (endpoint: JsonEndpoint, req: IncomingMessage, res: ServerResponse) => {
    try {
      if (endpoint.limited && deps.rateLimiter) {
        const wait = deps.rateLimiter.take(req.socket.remoteAddress ?? "unknown");
        if (wait > 0)
          throw new TesseraError("rate_limited", "too many requests; retry later", { headers: { "Retry-After": String(wait) } });
      }
      if (!JSON_TYPE.test(req.headers["content-type"] ?? "")) {
        req.resume();
        throw new TesseraError("unsupported_media_type", "send the request body as application/json");
      }
      const raw = await readBody(req, deps.maxBodyBytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        throw new TesseraError("bad_request", "request body is not valid JSON");
      }
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new TesseraError("bad_request", "request body must be a JSON object");
      }
      const result = await endpoint.handle(body as Record<string, unknown>, req.socket as TLSSocket);
      send(res, result.status, JSON.stringify(result.body));
    } catch (err) {
      const e = toHttpError(err, deps.logger, deps.metrics, endpoint.path);
      send(res, e.status, errorJson(e), e.headers);
    }
  };
  return (req, res) => {
    if (req.method !== "POST") return false;
    const endpoint = byPath.get(req.url ?? "");
    if (!endpoint) return false;
    void serve(endpoint, req, res);
    return true;
  };
}
