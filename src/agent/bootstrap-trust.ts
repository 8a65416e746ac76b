import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { TesseraError } from "../errors.js";
import { pemDecodeAll, pemEncode } from "../x509/pem.js";

/** `sha256:<64 hex>` (colons and case tolerated) → lower-case hex. */
export function parseFingerprint(text: string): string {
  const m = /^sha256:([0-9a-fA-F:]+)$/.exec(text.trim());
  const hex = m?.[1]?.replace(/:/g, "").toLowerCase();
  if (hex?.length !== 64) throw new TesseraError("invalid_argument", `invalid fingerprint "${text}": use sha256:<64 hex digits>`);
  return hex;
}

export function fingerprintOf(der: Buffer): string {
  return new X509Certificate(der).fingerprint256.replace(/:/g, "").toLowerCase();
}

/**
 * Fetches `/v1/bundle`: trusting `caPem` for the connection, or, without it,
 * trusting nothing yet (the caller then decides what to believe).
 */
function fetchBundle(serverUrl: string, caPem?: string): Promise<string> {
  const tls = caPem === undefined ? { rejectUnauthorized: false } : { ca: caPem };
  return new Promise((resolve, reject) => {
    const req = request(new URL("/v1/bundle", serverUrl), { ...tls, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Establishes trust in the CA: from a bundle file, or from the server's own
 * bundle *only* if it contains a root with the pinned fingerprint and the
 * server then proves (in a verified TLS handshake) that it chains to that
 * root. Anything else is an error: the agent never trusts blindly.
 */
export async function bootstrapBundle(serverUrl: string, opts: { bundleFile?: string; fingerprint?: string }): Promise<string> {
  if (opts.bundleFile) {
    const pem = readFileSync(opts.bundleFile, "utf8");
    if (!pemDecodeAll(pem).some((b) => b.label === "CERTIFICATE")) {
      throw new TesseraError("invalid_argument", `${opts.bundleFile} holds no certificate`);
    }
    return pem;
  }
  if (!opts.fingerprint) throw new TesseraError("invalid_argument", "give --bundle-fingerprint or --bundle to trust the CA");
  const want = parseFingerprint(opts.fingerprint);
  const offered = await fetchBundle(serverUrl);
  const root = pemDecodeAll(offered).find((b) => b.label === "CERTIFICATE" && fingerprintOf(b.der) === want);
  if (!root)
    throw new TesseraError("forbidden", `the server's bundle has no root with fingerprint sha256:${want}; refusing to trust it`);
  const rootPem = pemEncode(root.der, "CERTIFICATE");
  // prove the server we talk to chains to the pinned root, then take its full bundle
  return fetchBundle(serverUrl, rootPem);
}
