import "reflect-metadata";
import { randomBytes } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, describe, expect, it } from "vitest";
import { buildCrl, encodeRevokedEntries, type RevokedEntry } from "../../src/crl/build-crl.js";
import { parseCrl } from "../../src/crl/parse-crl.js";
import { generateKeyPair, type KeyType } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { smallInteger } from "../../src/der/der-writer.js";
import { certificateParts } from "../../src/x509/certificate-info.js";
import { pemEncode } from "../../src/x509/pem.js";
import { buildRootCertificate } from "../../src/x509/profile.js";
import { openssl, writeTemp } from "../helpers/openssl.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function ca(keyType: KeyType = "ec-p256") {
  const signer = new Signer(generateKeyPair(keyType).privateKey);
  const der = buildRootCertificate(signer, {
    trustDomain: "example.org",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
  });
  return { signer, der, name: certificateParts(der).subjectName };
}

const entries = (n: number): RevokedEntry[] =>
  Array.from({ length: n }, (_, i) => {
    const serial = randomBytes(16);
    serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
    return { serialHex: serial.toString("hex"), revokedAtSeconds: 1_790_000_000 + i, reason: [0, 1, 4, 5][i % 4] as number };
  });

describe("CRL encoder", () => {
  it("encodes entries as RFC 5280 lays them out (known answers)", () => {
    const { der, count } = encodeRevokedEntries([
      // INTEGER without a sign octet, UTCTime, reasonCode keyCompromise
      { serialHex: "4001", revokedAtSeconds: 1_790_000_000, reason: 1 },
      // a sign octet, GeneralizedTime (2052), no extension for unspecified
      { serialHex: "ff00", revokedAtSeconds: 2_600_000_000, reason: 0 },
    ]);
    expect(count).toBe(2);
    const ascii = (s: string) => Buffer.from(s, "ascii").toString("hex");
    expect(der.toString("hex")).toBe(
      `302102024001170d${ascii("260921141320Z")}300c300a0603551d1504030a0101` + `3016020300ff00180f${ascii("20520522141320Z")}`,
    );
  });

  it.each(["ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072"] as const)(
    "produces a CRL that openssl verifies and @peculiar/x509 parses (%s)",
    (keyType) => {
      const { signer, der, name } = ca(keyType);
      const list = entries(5);
      const crl = buildCrl(
        {
          issuerName: name,
          number: 7n,
          thisUpdate: new Date("2026-11-22T00:00:00Z"),
          nextUpdate: new Date("2026-11-22T01:00:00Z"),
          entries: list,
        },
        signer,
      );
      const crlPem = pemEncode(crl, "X509 CRL");
      const v = openssl(
        ["crl", "-noout", "-CAfile", writeTemp(tmp.dir, `ca-${keyType}.pem`, pemEncode(der, "CERTIFICATE"))],
        crlPem,
      );
      expect(v.stdout + v.stderr).toContain("verify OK");
      const parsed = new x509.X509Crl(crl);
      expect(parsed.entries.map((e) => e.serialNumber.toLowerCase())).toEqual(list.map((e) => e.serialHex));
      expect(parsed.entries[1]?.reason).toBe(1);
      expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(signer.keyIdentifier.toString("hex"));
      const text = openssl(["crl", "-noout", "-text"], crlPem).stdout;
      expect(text).toMatch(/CRL Number:\s*\n\s*7\n/);
      expect(text).toContain("Version 2");
      expect(text).toContain("Next Update: Nov 22 01:00:00 2026 GMT");
    },
  );

  it("omits revokedCertificates when nothing is revoked, and encodes large CRL numbers", () => {
    const { signer, name } = ca();
    const crl = buildCrl(
      { issuerName: name, number: 2n ** 70n, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 1000), entries: [] },
      signer,
    );
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl).stdout;
    expect(text).toContain("No Revoked Certificates");
    expect(text).toContain("1180591620717411303424");
    expect(smallInteger(1).length).toBe(3);
  });

  it("lists 20,000 entries that openssl reads back in full", () => {
    const { signer, name } = ca();
    const list = entries(20_000);
    const crl = buildCrl(
      { issuerName: name, number: 1n, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 3_600_000), entries: list },
      signer,
    );
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl).stdout;
    expect(text.match(/Serial Number:/g)?.length).toBe(20_000);
  });
});

describe("CRL parser", () => {
  it("reads back every serial as written, with or without a sign octet, and checks the signature", () => {
    const { signer, name } = ca();
    const other = ca();
    const list = [
      ...entries(1000),
      { serialHex: "ff00", revokedAtSeconds: 1_790_000_000, reason: 0 }, // encoded 00 ff 00
      { serialHex: "00", revokedAtSeconds: 1_790_000_000, reason: 0 }, // the one octet of zero stays
      { serialHex: "7f", revokedAtSeconds: 1_790_000_000, reason: 0 },
    ];
    const thisUpdate = new Date("2026-11-22T00:00:00Z");
    const nextUpdate = new Date("2026-11-22T01:00:00Z");
    const der = buildCrl({ issuerName: name, number: 3n, thisUpdate, nextUpdate, entries: list }, signer);
    const parsed = parseCrl(der);
    expect([...parsed.revoked].sort()).toEqual(list.map((e) => e.serialHex).sort());
    expect(parsed.issuerName.equals(name)).toBe(true);
    expect(parsed.thisUpdate).toEqual(thisUpdate);
    expect(parsed.nextUpdate).toEqual(nextUpdate);
    expect(parsed.verifySignature(signer.publicKey)).toBe(true);
    expect(parsed.verifySignature(other.signer.publicKey)).toBe(false);
    const tampered = Buffer.from(der);
    const at = der.indexOf(Buffer.from("020300ff00", "hex")); // INTEGER 00 ff 00
    expect(at).toBeGreaterThan(0);
    tampered[at + 4] = 0x01; // serial ff00 becomes ff01
    const reparsed = parseCrl(tampered);
    expect(reparsed.revoked.has("ff01")).toBe(true);
    expect(reparsed.verifySignature(signer.publicKey)).toBe(false);
  });
});
