import { createHmac } from "node:crypto";
import { createLocalJWKSet, exportJWK } from "jose";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { JwtSvidMinter, newJti } from "../../src/jwt/mint-jwt-svid.js";
import { verifyJwtSvid } from "../../src/jwt/verify-jwt-svid.js";

const signer = new Signer(generateKeyPair("ec-p256").privateKey);
const minter = new JwtSvidMinter(signer, "jwt-test");
const publicJwk = { ...(await exportJWK(signer.publicKey)), kid: "jwt-test", alg: "ES256", use: "sig" };
const keys = createLocalJWKSet({ keys: [publicJwk] });
const now = Math.floor(Date.now() / 1000);
const claims = {
  sub: "spiffe://example.org/web",
  aud: ["api"],
  iss: "https://ca.example",
  iat: now,
  exp: now + 300,
  jti: newJti(),
};

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("verifyJwtSvid", () => {
  it("accepts a token minted by Tessera and returns its identity", async () => {
    const v = await verifyJwtSvid(await minter.mint(claims), keys, { audience: "api", issuer: "https://ca.example" });
    expect(v).toMatchObject({ spiffeId: "spiffe://example.org/web", audience: ["api"], kid: "jwt-test", jti: claims.jti });
  });

  it.each(["ec-p384", "ed25519", "rsa-2048"] as const)("accepts/%s keys", async (keyType) => {
    const s = new Signer(generateKeyPair(keyType).privateKey);
    const m = new JwtSvidMinter(s, "k2");
    const set = createLocalJWKSet({ keys: [{ ...(await exportJWK(s.publicKey)), kid: "k2", alg: s.jwsAlgorithm }] });
    expect((await verifyJwtSvid(await m.mint(claims), set, { audience: "api" })).spiffeId).toBe(claims.sub);
  });

  const cases: Array<[string, () => string | Promise<string>, string]> = [
    ["rejects/alg none", () => `${b64({ alg: "none", typ: "JWT", kid: "jwt-test" })}.${b64(claims)}.`, "JWT-SVID rejected"],
    [
      "rejects/HS256 keyed with the public key",
      () => {
        const input = `${b64({ alg: "HS256", typ: "JWT", kid: "jwt-test" })}.${b64(claims)}`;
        const secret = signer.publicKey.export({ type: "spki", format: "pem" });
        return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      },
      "JWT-SVID rejected",
    ],
    ["rejects/wrong audience", () => minter.mint({ ...claims, aud: ["other"] }), "aud"],
    ["rejects/expired", () => minter.mint({ ...claims, iat: now - 900, exp: now - 600 }), "exp"],
    [
      "rejects/unknown kid",
      () => new JwtSvidMinter(new Signer(generateKeyPair("ec-p256").privateKey), "jwt-other").mint(claims),
      "no applicable key",
    ],
    [
      "rejects/known kid, other key",
      () => new JwtSvidMinter(new Signer(generateKeyPair("ec-p256").privateKey), "jwt-test").mint(claims),
      "signature",
    ],
    ["rejects/sub not a SPIFFE ID", () => minter.mint({ ...claims, sub: "admin" }), "SPIFFE ID"],
    [
      "rejects/tampered payload",
      async () => {
        const [h, , s] = (await minter.mint(claims)).split(".");
        return `${h}.${b64({ ...claims, sub: "spiffe://example.org/admin" })}.${s}`;
      },
      "signature",
    ],
    [
      "rejects/no exp",
      () => {
        const { exp: _exp, ...rest } = claims;
        return minter.mint(rest as typeof claims);
      },
      "exp",
    ],
    ["rejects/garbage", () => "not.a.jwt", "JWT-SVID rejected"],
    [
      "rejects/a non-canonical spelling of a valid token (base64url malleability)",
      async () => {
        const t = await minter.mint(claims);
        const last = t.at(-1) as string;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // the signature's last char carries 4 spare bits: flipping the lowest keeps the bytes
        return t.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] as string);
      },
      "canonical",
    ],
    ["rejects/huge token", () => "a".repeat(20_000), "reasonable size"],
  ];

  it.each(cases)("%s", async (_name, make, message) => {
    const attempt = verifyJwtSvid(await make(), keys, { audience: "api" });
    await expect(attempt).rejects.toMatchObject({ code: "unauthenticated" });
    await expect(verifyJwtSvid(await make(), keys, { audience: "api" })).rejects.toThrow(message);
  });

  it("rejects/a wrong issuer when one is required", async () => {
    await expect(verifyJwtSvid(await minter.mint(claims), keys, { audience: "api", issuer: "https://evil" })).rejects.toThrow(
      "iss",
    );
  });
});

describe("jti", () => {
  it("is 16 octets that sort in issuance order, with 80 random bits after the time", () => {
    const t = Date.parse("2027-03-01T12:00:00Z");
    const [a, b, later] = [newJti(t), newJti(t), newJti(t + 1)].map((j) => Buffer.from(j, "base64url"));
    for (const j of [a, b, later]) expect(j).toHaveLength(16);
    expect(a?.readUIntBE(0, 6)).toBe(t);
    expect(a?.subarray(0, 6).equals(b?.subarray(0, 6) as Buffer)).toBe(true);
    expect(a?.subarray(6).equals(b?.subarray(6) as Buffer)).toBe(false);
    expect(Buffer.compare(later as Buffer, a as Buffer)).toBe(1);
    expect(Buffer.compare(later as Buffer, b as Buffer)).toBe(1);
  });
});
