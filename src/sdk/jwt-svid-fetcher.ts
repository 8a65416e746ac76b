import type { IdentitySource } from "./identity-source.js";
import { pinnedFetch } from "./pinned-fetch.js";

/**
 * Fetches JWT-SVIDs from Tessera over mutual TLS with the workload's current
 * X.509-SVID, and caches each audience's token until shortly before it
 * expires (a fifth of its life, at least 30 s).
 */
export class JwtSvidFetcher {
  private readonly cache = new Map<string, { token: string; refreshAt: number }>();

  constructor(private readonly options: { serverUrl: string; source: IdentitySource; now?: () => number }) {}

  async token(audience: string | string[]): Promise<string> {
    const aud = [...new Set(Array.isArray(audience) ? audience : [audience])].sort();
    const key = aud.join("\n");
    const now = this.options.now?.() ?? Date.now();
    const hit = this.cache.get(key);
    if (hit && now < hit.refreshAt) return hit.token;
    const id = this.options.source.current();
    const res = await pinnedFetch(id.bundlePem, { cert: id.certChainPem, key: id.keyPem })(
      new URL("/v1/svid/jwt", this.options.serverUrl),
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ audience: aud }),
      },
    );
    const body = (await res.json()) as { token?: string; expires_at?: string; error?: { message: string } };
    if (res.status !== 201 || !body.token || !body.expires_at) {
      throw new Error(`JWT-SVID request failed: HTTP ${res.status} ${body.error?.message ?? ""}`.trim());
    }
    const exp = Date.parse(body.expires_at);
    this.cache.set(key, { token: body.token, refreshAt: exp - Math.max(30_000, (exp - now) / 5) });
    return body.token;
  }
}
