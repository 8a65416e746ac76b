import "reflect-metadata";
import { createPublicKey, webcrypto, X509Certificate } from "node:crypto";
import type { Worker } from "node:worker_threads";
import * as x509 from "@peculiar/x509";
import { afterAll, describe, expect, it } from "vitest";
import { CryptoThreads } from "../../src/crypto/crypto-threads.js";
import { generateKeyPair, keyTypeOf } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { children, readWhole, Tag, type Tlv } from "../../src/der/der-reader.js";
import { sequence } from "../../src/der/der-writer.js";
import { certificateParts } from "../../src/x509/certificate-info.js";
import { checkWorkloadKey, parseCsr, parseCsrHere } from "../../src/x509/csr.js";
import { distinguishedName } from "../../src/x509/extensions.js";
import { leafTemplate } from "../../src/x509/leaf-certificate.js";
import { pemEncode } from "../../src/x509/pem.js";
import { ABORTING_DSA_SPKI, csrWithKey, explicitCurveSpki, infinitySpki } from "../helpers/hostile-keys.js";
import { opensslCsr } from "../helpers/openssl.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const toDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");

describe("CSR parsing and proof of possession", () => {
  it.each(["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const)("accepts/%s CSRs made by openssl", (key) => {
    const { csrPem } = opensslCsr(tmp.dir, key);
    const parsed = parseCsr(csrPem);
    expect(parsed.isRsa).toBe(key === "rsa-2048");
    expect(toDer(csrPem).includes(parsed.spki)).toBe(true);
  });

  it("accepts/a CSR made by @peculiar/x509 and returns its exact public key", async () => {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=x", keys, signingAlgorithm: alg });
    const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", keys.publicKey));
    expect(parseCsr(csr.toString("pem")).spki.equals(spki)).toBe(true);
    expect(parseCsr(Buffer.from(csr.rawData)).spki.equals(spki)).toBe(true);
  });

  it.each(rejections())("%s", (_name, make, code) => {
    expect(() => parseCsr(make())).toThrow(expect.objectContaining({ code }));
  });

  it.each(rejections())("%s, by parseCsrHere (the server's path) too", async (_name, make, code) => {
    await expect(parseCsrHere(make())).rejects.toMatchObject({ code });
  });

  it.each(["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const)(
    "accepts/%s CSRs by parseCsrHere with the key parseCsr finds",
    async (key) => {
      const { csrPem } = opensslCsr(tmp.dir, key);
      const here = await parseCsrHere(csrPem);
      expect(here.spki.equals(parseCsr(csrPem).spki)).toBe(true);
      expect(here.publicKey.export({ type: "spki", format: "der" }).equals(here.spki)).toBe(true);
    },
  );

  it("rejects/request info of one key signed by another (CSR substitution)", () => {
    expect(() => parseCsr(substitutedCsr())).toThrow("proof of possession");
  });

  it("ignores everything in the CSR but its key", () => {
    const { csrPem } = opensslCsr(tmp.dir, "ec-p256", { subject: "/CN=root/O=evil", sans: "URI:spiffe://evil.org/x" });
    expect(Object.keys(parseCsr(csrPem)).sort()).toEqual(["isRsa", "publicKey", "spki"]);
  });
});

describe("keys Node 20 aborts on when asked for their details", () => {
  // imported as OpenSSL does; only their type may be asked (the test process would abort otherwise)
  const dsa = createPublicKey({ key: ABORTING_DSA_SPKI, format: "der", type: "spki" });

  it("rejects/the DSA key with a negative public value in checkWorkloadKey, by its type alone", () => {
    expect(() => checkWorkloadKey(dsa)).toThrow(expect.objectContaining({ code: "unsupported_key" }));
  });

  it("keyTypeOf answers that it is no key Tessera uses, by its type alone", () => {
    expect(keyTypeOf(dsa)).toBeUndefined();
  });
});

/** Bad CSRs, each with the error code it must get. */
function rejections(): Array<[string, () => string, string]> {
  const corrupt = (mutate: (der: Buffer) => Buffer) => () => {
    const der = Buffer.from(toDer(opensslCsr(tmp.dir).csrPem));
    return pemEncode(mutate(der), "CERTIFICATE REQUEST");
  };
  return [
    ["rejects/RSA-1024", () => opensslCsr(tmp.dir, "rsa-1024").csrPem, "unsupported_key"],
    ["rejects/a P-521 key", () => opensslCsr(tmp.dir, "ec-p521").csrPem, "unsupported_key"],
    ["rejects/a secp256k1 key", () => opensslCsr(tmp.dir, "ec-secp256k1").csrPem, "unsupported_key"],
    ["rejects/an Ed448 key", () => opensslCsr(tmp.dir, "ed448").csrPem, "unsupported_key"],
    [
      "rejects/a DSA key that Node 20 aborts on when asked for its details",
      () => csrWithKey(ABORTING_DSA_SPKI),
      "unsupported_key",
    ],
    ["rejects/an EC key with explicit curve parameters", () => csrWithKey(explicitCurveSpki()), "unsupported_key"],
    [
      "rejects/flipped signature bit",
      corrupt((d) => {
        d[d.length - 3] = (d[d.length - 3] as number) ^ 1;
        return d;
      }),
      "invalid_csr",
    ],
    [
      "rejects/flipped subject bit (signature no longer covers it)",
      corrupt((d) => {
        d[20] = (d[20] as number) ^ 1;
        return d;
      }),
      "invalid_csr",
    ],
    [
      "rejects/a key not on the curve",
      corrupt((d) => {
        const info = children(readWhole(d, Tag.SEQUENCE, "csr"), d)[0] as Tlv;
        const spki = children(info, d)[2] as Tlv;
        d[spki.end - 1] = (d[spki.end - 1] as number) ^ 1; // the point's last byte: y
        return d;
      }),
      "invalid_csr",
    ],
    [
      "rejects/a key at the point at infinity (Node 20 aborts asked for its details)",
      () => csrWithKey(infinitySpki()),
      "invalid_csr",
    ],
    ["rejects/truncated", corrupt((d) => d.subarray(0, d.length - 10)), "invalid_csr"],
    ["rejects/trailing bytes", corrupt((d) => Buffer.concat([d, Buffer.from([0])])), "invalid_csr"],
    ["rejects/empty PEM body", () => "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n", "invalid_csr"],
    ["rejects/two CSRs", () => opensslCsr(tmp.dir).csrPem + opensslCsr(tmp.dir).csrPem, "invalid_csr"],
    ["rejects/oversized", () => pemEncode(Buffer.alloc(20_000, 0x30), "CERTIFICATE REQUEST"), "invalid_csr"],
    ["rejects/random bytes", () => pemEncode(Buffer.from("8f3a9c0011223344556677", "hex"), "CERTIFICATE REQUEST"), "invalid_csr"],
  ];
}

/** The request info of one key with the algorithm and signature of another's CSR. */
function substitutedCsr(): string {
  const parts = (der: Buffer) => {
    const outer = readWhole(der, Tag.SEQUENCE, "csr");
    return children(outer, der).map((c) => c.raw);
  };
  const [infoA] = parts(toDer(opensslCsr(tmp.dir).csrPem));
  const [, algB, sigB] = parts(toDer(opensslCsr(tmp.dir).csrPem));
  return pemEncode(sequence(infoA as Buffer, algB as Buffer, sigB as Buffer), "CERTIFICATE REQUEST");
}

const caKey = generateKeyPair("ec-p256");
const template = leafTemplate(
  distinguishedName([["CN", "test issuing CA"]]),
  new Signer(caKey.privateKey).algorithmIdentifier,
  new Signer(caKey.privateKey).keyIdentifier,
  "http://127.0.0.1/v1/crl/t",
);
const fields = {
  spiffeId: "spiffe://example.org/w",
  dnsNames: [],
  ipAddresses: [],
  serial: Buffer.alloc(16, 0x41),
  notBefore: Date.now() - 30_000,
  notAfter: Date.now() + 600_000,
};

/** What a leaf made for a CSR holds of it: its key, and whether it got RSA's keyEncipherment. */
function keyOfLeaf(der: Buffer): { spki: Buffer; isRsa: boolean } {
  const cert = new X509Certificate(der);
  expect(cert.verify(caKey.publicKey)).toBe(true);
  const usage = new x509.X509Certificate(der).getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  return { spki: certificateParts(der).spki, isRsa: (usage & x509.KeyUsageFlags.keyEncipherment) !== 0 };
}

describe.each([
  ["in one trip to a crypto thread", () => new CryptoThreads(2)],
  ["on the event loop of a process without crypto threads", () => new CryptoThreads(0)],
  ["on the event loop, the CSR's signature and the leaf's on libuv's pool", undefined],
])("Leaves for CSRs %s (the server's path)", (_name, makeThreads) => {
  const threads = makeThreads?.();
  const signer = new Signer(caKey.privateKey);
  if (threads) signer.offloadTo(threads);
  const check = async (csr: string) => keyOfLeaf(await signer.leafForCsr(csr, template, fields));
  afterAll(() => threads?.close());

  it.each(["ec-p256", "ed25519", "rsa-2048"] as const)("accepts/%s, with the same key parseCsr finds", async (key) => {
    const { csrPem } = opensslCsr(tmp.dir, key);
    const checked = await check(csrPem);
    expect(checked.spki.equals(parseCsr(csrPem).spki)).toBe(true);
    expect(checked.isRsa).toBe(key === "rsa-2048");
  });

  it.each(rejections())("%s", async (_name, make, code) => {
    await expect(check(make())).rejects.toMatchObject({ name: "TesseraError", code });
  });

  it("rejects/request info of one key signed by another (CSR substitution)", async () => {
    await expect(check(substitutedCsr())).rejects.toThrow("proof of possession");
  });

  it("answers many concurrent requests each with its own result", async () => {
    const good = Array.from({ length: 8 }, () => opensslCsr(tmp.dir).csrPem);
    const bad = corruptSignature(good[0] as string);
    const inputs = good.flatMap((g) => [g, bad]);
    const results = await Promise.allSettled(inputs.map((csr) => check(csr)));
    results.forEach((r, i) => {
      if (i % 2 === 1) expect(r).toMatchObject({ status: "rejected", reason: { code: "invalid_csr" } });
      else {
        expect(r.status).toBe("fulfilled");
        const spki = (r as PromiseFulfilledResult<{ spki: Buffer }>).value.spki;
        expect(spki.equals(parseCsr(inputs[i] as string).spki)).toBe(true);
      }
    });
  });
});

describe("CryptoThreads leaves for CSRs", () => {
  it("makes them on the event loop when its thread cannot start (no respawning in a loop)", async () => {
    const pool = new CryptoThreads(1, { file: `${tmp.dir}/no-such-worker.js` });
    const signer = new Signer(caKey.privateKey);
    signer.offloadTo(pool);
    try {
      const { csrPem } = opensslCsr(tmp.dir);
      await expect(signer.leafForCsr(csrPem, template, fields)).rejects.toMatchObject({ code: "internal" });
      expect(keyOfLeaf(await signer.leafForCsr(csrPem, template, fields)).isRsa).toBe(false);
      await expect(signer.leafForCsr(corruptSignature(csrPem), template, fields)).rejects.toMatchObject({ code: "invalid_csr" });
    } finally {
      await pool.close();
    }
  });

  it("keeps answering after one of its threads dies (key and template sent anew)", async () => {
    const pool = new CryptoThreads(1);
    const signer = new Signer(caKey.privateKey);
    signer.offloadTo(pool);
    try {
      const { csrPem } = opensslCsr(tmp.dir);
      await signer.leafForCsr(csrPem, template, fields);
      const [thread] = (pool as unknown as { threads: Array<{ worker: Worker }> }).threads;
      await thread?.worker.terminate();
      expect(keyOfLeaf(await signer.leafForCsr(csrPem, template, fields)).spki.equals(parseCsr(csrPem).spki)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("sends a template again after a key is forgotten (the thread drops its templates then)", async () => {
    const pool = new CryptoThreads(1);
    const signer = new Signer(caKey.privateKey);
    const other = new Signer(generateKeyPair("ec-p256").privateKey);
    signer.offloadTo(pool);
    other.offloadTo(pool);
    try {
      const { csrPem } = opensslCsr(tmp.dir);
      await signer.leafForCsr(csrPem, template, fields);
      await other.signX509Async(Buffer.from("x"));
      other.release();
      expect(keyOfLeaf(await signer.leafForCsr(csrPem, template, fields)).isRsa).toBe(false);
    } finally {
      await pool.close();
    }
  });
});

function corruptSignature(csrPem: string): string {
  const der = Buffer.from(toDer(csrPem));
  der[der.length - 3] = (der[der.length - 3] as number) ^ 1;
  return pemEncode(der, "CERTIFICATE REQUEST");
}
