import { request } from "node:https";

export interface PinnedFetchInit {
  method?: string;
  headers?: Record<string, string> | Headers;
  body?: string;
  signal?: AbortSignal | null;
}

/**
 * A `fetch` that trusts only the given CA bundle (and optionally presents a
 * client certificate): for talking to Tessera, or a JWKS behind it, without
 * touching the process-wide trust store. Responses larger than `maxBytes` are
 * refused.
 */
export function pinnedFetch(
  caPem: string,
  options: { cert?: string; key?: string; maxBytes?: number; timeoutMs?: number } = {},
): (url: string | URL, init?: PinnedFetchInit) => Promise<Response> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const headers = init.headers instanceof Headers ? Object.fromEntries(init.headers.entries()) : (init.headers ?? {});
      const req = request(
        url,
        {
          method: init.method ?? "GET",
          headers,
          ca: caPem,
          cert: options.cert,
          key: options.key,
          timeout: options.timeoutMs ?? 5000,
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              req.destroy(new Error(`response from ${url} exceeds ${maxBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
            }
            const status = res.statusCode ?? 0;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, headers: h }));
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`request to ${url} timed out`)));
      req.on("error", reject);
      req.end(init.body);
    });
}
