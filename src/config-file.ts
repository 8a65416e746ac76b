import { readFileSync } from "node:fs";
import { TesseraError } from "./errors.js";
import { parseSelector } from "./identity/selector.js";

/** A trusted external issuer of JWTs that workloads may attest with. */
export interface JwtIssuerConfig {
  /** Exact `iss` value. */
  issuer: string;
  /** The `aud` the token must carry (Tessera's name at that issuer). */
  audience: string;
  /** JWKS as a local file, or an https URL (http only on loopback). */
  jwksFile?: string;
  jwksUrl?: string;
  /** PEM bundle to trust for jwksUrl (default: the system store). */
  jwksCaFile?: string;
  /** Allowed algorithms; never `none` or HMAC. */
  algorithms: string[];
  /** `kubernetes` adds k8s:ns / k8s:sa / k8s:pod-* selectors; `oidc` only iss, sub and mapped claims. */
  kind: "kubernetes" | "oidc";
  /** Extra claims to turn into selectors: claim name → selector name (`jwt:<name>:<value>`). */
  claimSelectors: Record<string, string>;
}

export interface RateLimitConfig {
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may make at once. */
  burst: number;
}

export interface FileConfig {
  jwtIssuers: JwtIssuerConfig[];
  /** Per-client limit on the attestation endpoints; null: unlimited. */
  rateLimit: RateLimitConfig | null;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { perSecond: 50, burst: 100 };
const ASYMMETRIC = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]);

function fail(where: string, message: string): never {
  throw new TesseraError("invalid_argument", `config ${where}: ${message}`);
}

function str(obj: Record<string, unknown>, key: string, where: string, required = true): string | undefined {
  const v = obj[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v.length === 0) fail(`${where}.${key}`, "must be a non-empty string");
  return v;
}

function parseIssuer(raw: unknown, i: number): JwtIssuerConfig {
  const where = `jwt_issuers[${i}]`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(where, "must be an object");
  const o = raw as Record<string, unknown>;
  const issuer = str(o, "issuer", where) as string;
  const jwksFile = str(o, "jwks_file", where, false);
  const jwksUrl = str(o, "jwks_url", where, false);
  if (!jwksFile === !jwksUrl) fail(where, "needs exactly one of jwks_file or jwks_url");
  if (jwksUrl) {
    const u = new URL(jwksUrl);
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) fail(`${where}.jwks_url`, "must be https");
  }
  const algorithms = (o.algorithms ?? ["RS256", "ES256"]) as unknown;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((a) => ASYMMETRIC.has(a))) {
    fail(`${where}.algorithms`, `must list asymmetric JWS algorithms (${[...ASYMMETRIC].join(", ")})`);
  }
  const kind = o.kind ?? "oidc";
  if (kind !== "kubernetes" && kind !== "oidc") fail(`${where}.kind`, 'must be "kubernetes" or "oidc"');
  const claimSelectors = (o.claim_selectors ?? {}) as Record<string, unknown>;
  if (typeof claimSelectors !== "object" || Array.isArray(claimSelectors)) fail(`${where}.claim_selectors`, "must be an object");
  for (const [claim, name] of Object.entries(claimSelectors)) {
    if (typeof name !== "string" || !/^[a-z0-9_-]{1,32}$/.test(name))
      fail(`${where}.claim_selectors.${claim}`, "must be a short lower-case name");
    parseSelector(`jwt:${name}:x`);
  }
  return {
    issuer,
    audience: str(o, "audience", where) as string,
    jwksFile,
    jwksUrl,
    jwksCaFile: str(o, "jwks_ca_file", where, false),
    algorithms: algorithms as string[],
    kind,
    claimSelectors: claimSelectors as Record<string, string>,
  };
}

function parseRateLimit(raw: unknown): RateLimitConfig | null {
  if (raw === undefined) return DEFAULT_RATE_LIMIT;
  if (raw === null || raw === false) return null;
  const o = raw as Record<string, unknown>;
  const perSecond = o.per_second;
  const burst = o.burst;
  if (typeof perSecond !== "number" || !(perSecond > 0)) fail("rate_limit.per_second", "must be a positive number");
  if (typeof burst !== "number" || !Number.isInteger(burst) || burst < 1) fail("rate_limit.burst", "must be a positive integer");
  return { perSecond, burst };
}

/** Parses the server configuration document (JSON). Unknown keys are refused, so typos do not pass silently. */
export function parseFileConfig(text: string): FileConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail("file", `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) fail("file", "must be a JSON object");
  const o = doc as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!["jwt_issuers", "rate_limit"].includes(key)) fail(key, "is not a known setting");
  const issuers = o.jwt_issuers ?? [];
  if (!Array.isArray(issuers)) fail("jwt_issuers", "must be an array");
  const parsed = issuers.map(parseIssuer);
  if (new Set(parsed.map((p) => p.issuer)).size !== parsed.length) fail("jwt_issuers", "lists an issuer twice");
  return { jwtIssuers: parsed, rateLimit: parseRateLimit(o.rate_limit) };
}

export function loadFileConfig(path: string | undefined): FileConfig {
  if (!path) return { jwtIssuers: [], rateLimit: DEFAULT_RATE_LIMIT };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new TesseraError("invalid_argument", `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return parseFileConfig(text);
}
