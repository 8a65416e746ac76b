import { generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { publicKeyFromSpki, publicKeyFromSpkiToVerify } from "../../src/crypto/public-key.js";
import { bitString, objectIdentifier, sequence, smallInteger, tlv, unsignedInteger } from "../../src/der/der-writer.js";
import { OID } from "../../src/der/oids.js";
import { explicitCurveSpki, infinitySpki } from "../helpers/hostile-keys.js";

const spkiOf = (k: KeyObject) => k.export({ type: "spki", format: "der" });
const p256 = () => Buffer.from(spkiOf(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey));

describe.each([
  ["publicKeyFromSpki", async (spki: Buffer) => publicKeyFromSpki(spki)],
  ["publicKeyFromSpkiToVerify (EC points through WebCrypto's raw import)", publicKeyFromSpkiToVerify],
])("%s", (_name, importKey) => {
  it.each([
    ["P-256", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" })],
    ["P-384", () => generateKeyPairSync("ec", { namedCurve: "secp384r1" })],
    ["Ed25519", () => generateKeyPairSync("ed25519")],
    ["RSA-2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
    ["P-521 (DER path)", () => generateKeyPairSync("ec", { namedCurve: "secp521r1" })],
    ["Ed448 (DER path)", () => generateKeyPairSync("ed448")],
  ])("round-trips %s to exactly the same key, which verifies its signatures", async (_key, make) => {
    for (let i = 0; i < 5; i++) {
      const { publicKey, privateKey } = make();
      const spki = spkiOf(publicKey);
      const imported = await importKey(spki);
      expect(imported.export({ type: "spki", format: "der" }).equals(spki)).toBe(true);
      const hash = publicKey.asymmetricKeyType?.startsWith("ed") ? null : "sha256";
      const data = Buffer.from(`message ${i}`);
      expect(verify(hash, data, imported, sign(hash, data, privateKey))).toBe(true);
      expect(verify(hash, Buffer.from("another"), imported, sign(hash, data, privateKey))).toBe(false);
    }
  });

  it("rejects/an EC point that is not on the curve", async () => {
    const spki = p256();
    spki[spki.length - 1] = (spki[spki.length - 1] as number) ^ 0x01;
    await expect(importKey(spki)).rejects.toThrow();
  });

  it("rejects/the EC point (0, 0), and one whose x is the field's prime", async () => {
    const zero = p256();
    zero.fill(0, zero.length - 64);
    await expect(importKey(zero)).rejects.toThrow();
    const prime = p256();
    Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex").copy(prime, prime.length - 64);
    await expect(importKey(prime)).rejects.toThrow();
  });

  it("rejects/a point on the curve written with x + p for x (not reduced modulo the field's prime)", async () => {
    const { x, y } = smallP256Point();
    const spki = p256();
    Buffer.from(hex32(x) + hex32(y), "hex").copy(spki, spki.length - 64);
    expect((await importKey(spki)).export({ type: "spki", format: "der" }).equals(spki)).toBe(true); // the control
    Buffer.from(hex32(x + P256_PRIME), "hex").copy(spki, spki.length - 64);
    await expect(importKey(spki)).rejects.toThrow();
  });

  it.each([
    ["P-256", "1.2.840.10045.3.1.7"],
    ["P-521", "1.3.132.0.35"],
  ])("rejects/the point at infinity as a %s key (Node 20 aborts the process when asked for its details)", async (_curve, oid) => {
    await expect(importKey(infinitySpki(oid))).rejects.toThrow("point at infinity");
  });

  it("rejects/an EC key with explicit curve parameters rather than a named curve (RFC 5480)", async () => {
    const explicit = explicitCurveSpki();
    expect(explicit.length).toBeGreaterThan(p256().length + 100); // the control: the curve really is spelled out
    await expect(importKey(explicit)).rejects.toThrow("must name its curve");
  });

  it("rejects/an RSA key whose modulus is a negative INTEGER (a JWK would check another number than the certificate carries)", async () => {
    const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    const n = Buffer.from(jwk.n as string, "base64url"); // its top bit is set: as a DER INTEGER it needs a leading 00
    const spkiWith = (modulus: Buffer) =>
      sequence(
        sequence(objectIdentifier(OID.rsaEncryption), Buffer.from([5, 0])),
        bitString(sequence(modulus, smallInteger(65537))),
      );
    await expect(importKey(spkiWith(unsignedInteger(n)))).resolves.toBeDefined(); // the control
    await expect(importKey(spkiWith(tlv(0x02, n)))).rejects.toThrow("must be positive");
  });

  it("rejects/trailing bytes after a valid key (OpenSSL's DER decoder would ignore them)", async () => {
    await expect(importKey(Buffer.concat([p256(), Buffer.from([0])]))).rejects.toThrow("malformed");
  });

  it("rejects/garbage", async () => {
    await expect(importKey(Buffer.from("3003020100", "hex"))).rejects.toThrow();
  });
});

const P256_PRIME = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const hex32 = (v: bigint) => v.toString(16).padStart(64, "0");

function powMod(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = base % m;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** A P-256 point with a small x, so that x + p still fits in 32 bytes (p ≡ 3 mod 4: square roots are one power). */
function smallP256Point(): { x: bigint; y: bigint } {
  for (let x = 1n; ; x++) {
    const rhs = (((x ** 3n - 3n * x + P256_B) % P256_PRIME) + P256_PRIME) % P256_PRIME;
    const y = powMod(rhs, (P256_PRIME + 1n) / 4n, P256_PRIME);
    if ((y * y) % P256_PRIME === rhs) return { x, y };
  }
}
