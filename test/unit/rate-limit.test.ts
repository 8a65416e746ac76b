import { describe, expect, it } from "vitest";
import { parseFileConfig } from "../../src/config-file.js";
import { RateLimiter } from "../../src/http/rate-limit.js";

describe("RateLimiter", () => {
  it("allows a burst, then refills at the configured rate, per client", () => {
    let t = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, () => t);
    expect([1, 2, 3].map(() => limiter.take("a"))).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBe(1);
    expect(limiter.take("b")).toBe(0);
    t += 500;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
    t += 10_000;
    expect([1, 2, 3].map(() => limiter.take("a"))).toEqual([0, 0, 0]);
  });

  it("forgets idle clients", () => {
    let t = 0;
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, () => t);
    limiter.take("a");
    t += 5_000;
    limiter.sweep();
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(0);
  });
});

describe("server config file", () => {
  const issuer = { issuer: "https://k8s", audience: "tessera", jwks_file: "/x.json" };
  it("parses issuers with defaults", () => {
    const c = parseFileConfig(JSON.stringify({ jwt_issuers: [issuer], rate_limit: { per_second: 5, burst: 10 } }));
    expect(c.jwtIssuers[0]).toMatchObject({ issuer: "https://k8s", algorithms: ["RS256", "ES256"], kind: "oidc" });
    expect(c.rateLimit).toEqual({ perSecond: 5, burst: 10 });
    expect(parseFileConfig(JSON.stringify({ rate_limit: null })).rateLimit).toBeNull();
  });

  it.each([
    ["rejects/not JSON", "{", "not valid JSON"],
    ["rejects/unknown key", JSON.stringify({ jwt_issuer: [] }), "not a known setting"],
    ["rejects/HS256 allowed", JSON.stringify({ jwt_issuers: [{ ...issuer, algorithms: ["HS256"] }] }), "asymmetric"],
    ["rejects/none allowed", JSON.stringify({ jwt_issuers: [{ ...issuer, algorithms: ["none"] }] }), "asymmetric"],
    ["rejects/both JWKS sources", JSON.stringify({ jwt_issuers: [{ ...issuer, jwks_url: "https://x/jwks" }] }), "exactly one"],
    [
      "rejects/plain-http JWKS off loopback",
      JSON.stringify({ jwt_issuers: [{ issuer: "https://a", audience: "t", jwks_url: "http://idp.example/jwks" }] }),
      "https",
    ],
    ["rejects/duplicate issuer", JSON.stringify({ jwt_issuers: [issuer, issuer] }), "twice"],
    ["rejects/bad rate limit", JSON.stringify({ rate_limit: { per_second: 0, burst: 1 } }), "per_second"],
  ])("%s", (_name, text, message) => {
    expect(() => parseFileConfig(text)).toThrow(message);
  });
});
