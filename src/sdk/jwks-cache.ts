import { readFileSync } from "node:fs";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { innermostMessage, TesseraError } from "../errors.js";

export interface JwksCacheOptions {
  /** A JWKS URL, or a local file path. */
  source: string;
  fetch?: (url: string, init?: { headers?: Record<string, string> }) => Promise<Response>;
  /** Never refetch more often than this on an unknown kid (default 5 s). */
  minRefreshMs?: number;
  /** Cache lifetime when the server sends no max-age (default 5 min). */
  defaultMaxAgeMs?: number;
  now?: () => number;
}

/**
 * A JWKS kept fresh the way HTTP says: reused until its Cache-Control
 * max-age runs out (revalidated with If-None-Match), and refetched early
 * when a token names a kid it does not hold — but never more often than
 * `minRefreshMs`, so garbage kids cannot make it hammer the server.
 */
export class JwksCache {
  private keys: JWTVerifyGetKey | undefined;
  private etag: string | undefined;
  private expiresAt = 0;
  private lastFetch = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  fetches = 0;

  constructor(private readonly opts: JwksCacheOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** Loads the key set; a failure says why the keys are unavailable, never that the token is bad. */
  private async load(): Promise<void> {
    this.lastFetch = this.now();
    this.fetches++;
    const source = this.opts.source;
    try {
      if (/^https?:\/\//.test(source)) await this.fetchRemote(source);
      else {
        this.keys = createLocalJWKSet(JSON.parse(readFileSync(source, "utf8")) as JSONWebKeySet);
        this.expiresAt = this.now() + (this.opts.defaultMaxAgeMs ?? 300_000);
      }
    } catch (e) {
      throw new TesseraError("unavailable", `cannot load the JWKS ${source}: ${innermostMessage(e)}`, { cause: e });
    }
  }

  private async fetchRemote(source: string): Promise<void> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.etag && this.keys) headers["if-none-match"] = this.etag;
    const res = await (this.opts.fetch ?? ((u, i) => fetch(u, i)))(source, { headers });
    const maxAge = /max-age=(\d+)/.exec(res.headers.get("cache-control") ?? "")?.[1];
    this.expiresAt = this.now() + (maxAge === undefined ? (this.opts.defaultMaxAgeMs ?? 300_000) : Number(maxAge) * 1000);
    if (res.status === 304 && this.keys) return;
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    this.keys = createLocalJWKSet((await res.json()) as JSONWebKeySet);
    this.etag = res.headers.get("etag") ?? undefined;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** A key resolver for jose's jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.keys || this.now() >= this.expiresAt) await this.refresh();
    try {
      return await (this.keys as JWTVerifyGetKey)(header, token);
    } catch (e) {
      const unknownKid = e instanceof errors.JWKSNoMatchingKey;
      if (!unknownKid || this.now() - this.lastFetch < (this.opts.minRefreshMs ?? 5000)) throw e;
      await this.refresh();
      return (this.keys as JWTVerifyGetKey)(header, token);
    }
  };
}
