import { isIP } from "node:net";
import type { RateLimitConfig } from "./config-file.js";
import { TesseraError } from "./errors.js";

export interface ListenAddress {
  host: string;
  port: number;
}

/** Everything `serve` needs, validated once and frozen. */
export interface ServeConfig {
  dataDir: string;
  listen: ListenAddress;
  /** Plain-HTTP listener for the CRL, if any. */
  httpListen?: ListenAddress;
  dnsNames: readonly string[];
  /** Trust domain used if the data directory must be initialised on first start. */
  defaultTrustDomain: string;
  /** Initialise an empty data directory on start (the embedded default for `npm start`). */
  autoInit: boolean;
  x509DefaultTtlMs: number;
  jwtDefaultTtlMs: number;
  /** Public base URL of the API (JWT `iss`, OIDC discovery); default: the listen address. */
  publicUrl?: string;
  crlValidityMs: number;
  maxBodyBytes: number;
  /** Server configuration file (trusted JWT issuers, rate limits); default `<data-dir>/config.json` if present. */
  configFile?: string;
  /** Overrides the file's rate limit: a limit, or null for none. */
  rateLimit?: RateLimitConfig | null;
  /** Expired records older than this are pruned (hourly, by the leader). */
  retentionMs: number;
  /** How often the server looks for changes made by other processes (revocations, rotations). */
  pollIntervalMs: number;
  /** A TLS handshake, and a request's headers and body, must each arrive within this. */
  slowClientTimeoutMs: number;
}

export const DEFAULT_LISTEN = "127.0.0.1:8443";

/** Parses `host:port`, `[v6]:port` or `:port`. Port 0 picks a free port. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new TesseraError("invalid_argument", `invalid listen address "${text}": use HOST:PORT`);
  const host = m[1] ?? (m[2] || "127.0.0.1");
  if (m[1] && isIP(m[1]) !== 6) throw new TesseraError("invalid_argument", `invalid IPv6 address in "${text}"`);
  return { host, port };
}

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates a DNS name for a certificate SAN (lower-case, no wildcard). */
export function parseDnsName(text: string): string {
  const name = text.trim().toLowerCase();
  if (!DNS_NAME.test(name)) throw new TesseraError("invalid_argument", `invalid DNS name "${text.slice(0, 80)}"`);
  return name;
}

export function makeServeConfig(partial: Partial<ServeConfig> & { dataDir: string }): Readonly<ServeConfig> {
  return Object.freeze({
    listen: parseListen(DEFAULT_LISTEN),
    dnsNames: [],
    defaultTrustDomain: "example.org",
    autoInit: false,
    x509DefaultTtlMs: 3_600_000,
    jwtDefaultTtlMs: 300_000,
    crlValidityMs: 3_600_000,
    maxBodyBytes: 64 * 1024,
    pollIntervalMs: 100,
    slowClientTimeoutMs: 10_000,
    retentionMs: 7 * 86_400_000,
    ...partial,
  });
}

export function formatUrl(scheme: "http" | "https", addr: ListenAddress): string {
  const host = isIP(addr.host) === 6 ? `[${addr.host}]` : addr.host === "0.0.0.0" ? "127.0.0.1" : addr.host;
  return `${scheme}://${host}:${addr.port}`;
}

/** An https base URL without path, query or trailing slash. */
export function parsePublicUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TesseraError("invalid_argument", `invalid URL "${text}"`);
  }
  if (url.protocol !== "https:" || url.search || url.hash || url.username || url.password) {
    throw new TesseraError("invalid_argument", "--public-url must be an https URL without query, fragment or credentials");
  }
  return url.toString().replace(/\/$/, "");
}

/** Parses `--rate-limit`: `PER_SECOND:BURST` (e.g. `50:100`) or `off`. */
export function parseRateLimit(text: string): RateLimitConfig | null {
  if (text === "off") return null;
  const m = /^(\d+(?:\.\d+)?):(\d+)$/.exec(text);
  if (!m || !(Number(m[1]) > 0) || !(Number(m[2]) >= 1)) {
    throw new TesseraError("invalid_argument", `invalid rate limit "${text}": use PER_SECOND:BURST (e.g. 50:100) or off`);
  }
  return { perSecond: Number(m[1]), burst: Number(m[2]) };
}
