import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { publicKeyFromSpki } from "../../src/crypto/public-key.js";

const spkiOf = (k: ReturnType<typeof generateKeyPairSync>["publicKey"]) => k.export({ type: "spki", format: "der" });

describe("publicKeyFromSpki", () => {
  it.each([
    ["P-256", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" })],
    ["P-384", () => generateKeyPairSync("ec", { namedCurve: "secp384r1" })],
    ["Ed25519", () => generateKeyPairSync("ed25519")],
    ["RSA-2048", () => generateKeyPairSync("rsa", { modulusLength: 2048 })],
    ["P-521 (DER path)", () => generateKeyPairSync("ec", { namedCurve: "secp521r1" })],
    ["Ed448 (DER path)", () => generateKeyPairSync("ed448")],
  ])("round-trips %s to exactly the same key", (_name, make) => {
    for (let i = 0; i < 5; i++) {
      const spki = spkiOf(make().publicKey);
      expect(publicKeyFromSpki(spki).export({ type: "spki", format: "der" }).equals(spki)).toBe(true);
    }
  });

  it("rejects/an EC point that is not on the curve", () => {
    const spki = Buffer.from(spkiOf(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey));
    spki[spki.length - 1] = (spki[spki.length - 1] as number) ^ 0x01;
    expect(() => publicKeyFromSpki(spki)).toThrow();
  });

  it("rejects/trailing bytes after a valid key (OpenSSL's DER decoder would ignore them)", () => {
    const spki = spkiOf(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey);
    expect(() => publicKeyFromSpki(Buffer.concat([spki, Buffer.from([0])]))).toThrow("malformed");
  });

  it("rejects/garbage", () => {
    expect(() => publicKeyFromSpki(Buffer.from("3003020100", "hex"))).toThrow();
  });
});
