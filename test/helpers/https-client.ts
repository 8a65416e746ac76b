import { request as httpRequest } from "node:http";
import { type Agent, request } from "node:https";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
  text(): string;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** Trust anchors for the server (PEM). */
  ca?: string;
  /** Client certificate chain and key (PEM) for mutual TLS. */
  cert?: string;
  key?: string;
  /** A keep-alive agent, to send several requests over one connection; default: a fresh connection. */
  agent?: Agent;
}

/** One HTTPS (or HTTP) request with full control over TLS and body; the test's view of the wire. */
export function call(url: string, opts: RequestOptions = {}): Promise<Reply> {
  const u = new URL(url);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let payload: Buffer | undefined;
  if (opts.rawBody !== undefined) payload = Buffer.from(opts.rawBody);
  else if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers["content-type"] ??= "application/json";
  }
  if (payload) headers["content-length"] = String(payload.length);
  const send = u.protocol === "https:" ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: opts.method ?? (payload ? "POST" : "GET"),
        headers,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString("utf8")) as T,
            text: () => body.toString("utf8"),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
