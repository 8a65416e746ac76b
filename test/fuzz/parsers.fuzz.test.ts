import type { KeyObject } from "node:crypto";
import fc from "fast-check";
import { createLocalJWKSet, exportJWK } from "jose";
import { describe, expect, it } from "vitest";
import { parseFileConfig } from "../../src/config-file.js";
import { parseCrl } from "../../src/crl/parse-crl.js";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { publicKeyFromSpki, publicKeyFromSpkiToVerify } from "../../src/crypto/public-key.js";
import { Signer } from "../../src/crypto/signer.js";
import { readTlv } from "../../src/der/der-reader.js";
import {
  bitString,
  explicit,
  objectIdentifier,
  octetString,
  sequence,
  smallInteger,
  unsignedInteger,
} from "../../src/der/der-writer.js";
import { parseDuration } from "../../src/duration.js";
import { parseSelector } from "../../src/identity/selector.js";
import { parseSpiffeId } from "../../src/identity/spiffe-id.js";
import { JwtSvidMinter, newJti } from "../../src/jwt/mint-jwt-svid.js";
import { verifyJwtSvid } from "../../src/jwt/verify-jwt-svid.js";
import { buildCsr } from "../../src/x509/build-csr.js";
import { certificateParts } from "../../src/x509/certificate-info.js";
import { parseCsr, parseCsrHere } from "../../src/x509/csr.js";
import { pemEncode } from "../../src/x509/pem.js";
import { csrWithKey } from "../helpers/hostile-keys.js";
import { isExpectedError, printTallyAfterAll, RUNS, tally } from "./fuzz-helpers.js";

printTallyAfterAll("parsers");

const signer = new Signer(generateKeyPair("ec-p256").privateKey);
const validCsr = buildCsr(signer);

/** Runs `fn`; passes if it returns or throws an expected (typed) error. */
function survives(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    return isExpectedError(e);
  }
}

/** Mutations of a valid DER: bit flips, truncations, insertions, byte overwrites. */
const mutatedDer = (base: Buffer) =>
  fc.oneof(
    fc.tuple(fc.nat(base.length * 8 - 1)).map(([bit]) => {
      const b = Buffer.from(base);
      b[bit >> 3] = (b[bit >> 3] as number) ^ (0x80 >> (bit & 7));
      return b;
    }),
    fc.nat(base.length - 1).map((n) => base.subarray(0, n)),
    fc
      .tuple(fc.nat(base.length), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([at, ins]) => Buffer.concat([base.subarray(0, at), Buffer.from(ins), base.subarray(at)])),
    fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, v]) => {
      const b = Buffer.from(base);
      b[at] = v;
      return b;
    }),
    fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  );

/** Structurally valid DER with hostile fields: huge integers, odd OIDs, long lengths, nesting. */
const hostileDer: fc.Arbitrary<Buffer> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    fc.uint8Array({ maxLength: 64 }).map((a) => unsignedInteger(Buffer.from(a.length ? a : [0]))),
    fc
      .array(fc.integer({ min: 0, max: 2 ** 31 }), { minLength: 2, maxLength: 12 })
      .map((arcs) =>
        objectIdentifier(`${(arcs[0] as number) % 3}.${(arcs[1] as number) % 40}.${arcs.slice(2).join(".")}`.replace(/\.$/, "")),
      ),
    fc.uint8Array({ maxLength: 40 }).map((a) => octetString(Buffer.from(a))),
    fc.nat(1000).map((n) => smallInteger(n)),
    fc.array(tie("node") as fc.Arbitrary<Buffer>, { maxLength: 5 }).map((kids) => sequence(...kids)),
    fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.array(tie("node") as fc.Arbitrary<Buffer>, { maxLength: 3 }))
      .map(([n, kids]) => explicit(n, ...kids)),
  ),
})).node;

describe("fuzz: DER and PEM parsers fail only with typed errors", () => {
  it("parseCsr on mutated CSRs (DER and PEM)", () => {
    fc.assert(
      fc.property(mutatedDer(validCsr), fc.boolean(), (der, asPem) => {
        const ok = survives(() => parseCsr(asPem ? pemEncode(der, "CERTIFICATE REQUEST") : der));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it("parseCsr on hostile structures", () => {
    fc.assert(
      fc.property(hostileDer, (der) => {
        const ok = survives(() => parseCsr(der));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it("a mutated CSR is accepted only if it still proves possession of a valid key", () => {
    fc.assert(
      fc.property(mutatedDer(validCsr), (der) => {
        let accepted = false;
        try {
          parseCsr(der);
          accepted = true;
        } catch {}
        // flipping a byte of a signed CSR must not yield an accepted CSR unless the bytes are unchanged in meaning
        const ok = !accepted || Buffer.compare(der, validCsr) === 0 || verifiesAgain(der);
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it("parseCsrHere (the server's path) answers every mutated CSR as parseCsr does", async () => {
    const outcome = async (parse: () => unknown) => {
      try {
        return `accepted ${((await parse()) as { spki: Buffer }).spki.toString("hex")}`;
      } catch (e) {
        return `rejected ${(e as { code?: string }).code ?? (e as Error).message}`;
      }
    };
    await fc.assert(
      fc.asyncProperty(mutatedDer(validCsr), async (der) => {
        const ok = (await outcome(() => parseCsr(der))) === (await outcome(() => parseCsrHere(der)));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it("parseCrl and certificateParts on mutations and hostile structures", () => {
    fc.assert(
      fc.property(fc.oneof(mutatedDer(validCsr), hostileDer), (der) => {
        const ok = survives(() => parseCrl(der)) && survives(() => certificateParts(der)) && survives(() => readTlv(der));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it("publicKeyFromSpki never accepts a mutated key as the original", () => {
    const spki = signer.spki;
    fc.assert(
      fc.property(mutatedDer(spki), (der) => {
        let same = false;
        try {
          same = publicKeyFromSpki(der).export({ type: "spki", format: "der" }).equals(spki);
        } catch {}
        const ok = !same || der.equals(spki);
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

/**
 * SubjectPublicKeyInfos of every key type OpenSSL knows, with hostile parameters and key bits. Node 20
 * aborts the whole process when asked for the details of some keys OpenSSL imports (found this way:
 * a DSA key with a negative public value; an EC point at infinity), so a failure here can end the run.
 */
const hostileSpki: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(
      "1.2.840.10045.2.1", // EC
      "1.2.840.10040.4.1", // DSA
      "1.2.840.113549.1.3.1", // DH (PKCS #3)
      "1.2.840.10046.2.1", // DH (X9.42)
      "1.2.840.113549.1.1.1", // RSA
      "1.2.840.113549.1.1.10", // RSA-PSS
      "1.3.101.110", // X25519
      "1.3.101.111", // X448
      "1.3.101.112", // Ed25519
      "1.3.101.113", // Ed448
    ),
    fc.oneof(
      fc.constant<Buffer[]>([]),
      fc.constant([Buffer.from([5, 0])]),
      fc
        .constantFrom("1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35", "1.3.132.0.10", "1.2.156.10197.1.301")
        .map((curve) => [objectIdentifier(curve)]),
      // domain parameters (DSA, DH): integers of the sizes real ones have, which OpenSSL takes further
      fc
        .array(
          fc.constantFrom(1, 21, 33, 65, 129).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
          { minLength: 3, maxLength: 3 },
        )
        .map((ints) => [sequence(...ints.map((i) => unsignedInteger(Buffer.from(i))))]),
    ),
    fc.oneof(
      fc.uint8Array({ maxLength: 140 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ minLength: 1, maxLength: 140 }).map((b) => unsignedInteger(Buffer.from(b))),
      // an INTEGER of any sign (a negative DSA public key is one Node 20 aborts on)
      fc.uint8Array({ minLength: 1, maxLength: 100 }).map((b) => Buffer.concat([Buffer.from([2, b.length]), Buffer.from(b)])),
      // an INTEGER and bytes after it, which OpenSSL's decoders have been seen to ignore
      fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 40 }))
        .map(([i, junk]) => Buffer.concat([unsignedInteger(Buffer.from(i)), Buffer.from(junk)])),
      fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 4 }))
        .map(([n, e]) => sequence(unsignedInteger(Buffer.from(n)), unsignedInteger(Buffer.from(e)))),
      fc
        .constantFrom(0, 2, 3, 4, 6)
        .chain((prefix) => fc.uint8Array({ maxLength: 132 }).map((b) => Buffer.concat([Buffer.from([prefix]), Buffer.from(b)]))),
    ),
  )
  .map(([algorithm, params, key]) => sequence(sequence(objectIdentifier(algorithm), ...params), bitString(key)));

describe("fuzz: hostile keys in CSRs are refused with typed errors, and never take the process down", () => {
  it("parseCsr and parseCsrHere on CSRs carrying hostile SubjectPublicKeyInfos", async () => {
    await fc.assert(
      fc.asyncProperty(hostileSpki, async (spki) => {
        const csr = csrWithKey(spki); // its signature proves nothing: no key may get past the check
        let ok = !accepts(() => parseCsr(csr));
        try {
          await parseCsrHere(csr);
          ok = false;
        } catch (e) {
          ok &&= isExpectedError(e);
        }
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 10 },
    );
  });
});

/** True if `fn` returned; false if it refused with a typed error; rethrows anything else. */
function accepts(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (isExpectedError(e)) return false;
    throw e;
  }
}

describe("fuzz: the two ways of importing a public key agree", () => {
  it("publicKeyFromSpkiToVerify accepts exactly the mutated keys publicKeyFromSpki accepts, as the same keys", async () => {
    const spki = signer.spki;
    const outcome = async (importKey: () => unknown) => {
      try {
        return ((await importKey()) as KeyObject).export({ type: "spki", format: "der" }).toString("hex");
      } catch {
        return "rejected";
      }
    };
    await fc.assert(
      fc.asyncProperty(mutatedDer(spki), async (der) => {
        const ok = (await outcome(() => publicKeyFromSpki(der))) === (await outcome(() => publicKeyFromSpkiToVerify(der)));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

function verifiesAgain(der: Buffer): boolean {
  // an accepted mutation must re-encode to a CSR whose key signed it: parseCsr already checked that
  return parseCsr(der).spki.length > 0;
}

describe("fuzz: text inputs", () => {
  const weird = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: "binary", maxLength: 80 }),
    fc.constantFrom(
      "spiffe://",
      "spiffe://a/b",
      "spiffe://A/b",
      "spiffe://a:1/b",
      "spiffe://a/./b",
      "spiffe://a/b%00",
      "spiffe://a/\u0000",
      "1h",
      "0s",
      "9".repeat(30) + "d",
    ),
    fc
      .tuple(
        fc.constantFrom("spiffe://", "spiffe://example.org/", "k8s:", "jwt:sub:"),
        fc.string({ unit: "binary", maxLength: 40 }),
      )
      .map(([a, b]) => a + b),
  );

  it("SPIFFE IDs, selectors and durations", () => {
    fc.assert(
      fc.property(weird, (text) => {
        const ok =
          survives(() => {
            const id = parseSpiffeId(text).toString();
            // an accepted ID round-trips and is plain ASCII without forbidden parts
            if (id !== text || !/^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/.test(id))
              throw new Error(`accepted bad ID ${text}`);
          }) &&
          survives(() => parseSelector(text)) &&
          survives(() => {
            const ms = parseDuration(text);
            if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error("bad duration accepted");
          });
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 20 },
    );
  });

  it("server config documents", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ maxLength: 60 })), (text) => {
        const ok = survives(() => parseFileConfig(text));
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

describe("fuzz: JWT-SVID verification", async () => {
  const jwk = { ...(await exportJWK(signer.publicKey)), kid: "k", alg: "ES256" };
  const keys = createLocalJWKSet({ keys: [jwk] });
  const now = Math.floor(Date.now() / 1000);
  const good = await new JwtSvidMinter(signer, "k").mint({
    sub: "spiffe://example.org/a",
    aud: ["api"],
    iss: "x",
    iat: now,
    exp: now + 300,
    jti: newJti(),
  });
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

  const tokens = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc
      .tuple(fc.nat(good.length - 1), fc.string({ minLength: 1, maxLength: 1 }))
      .map(([i, c]) => good.slice(0, i) + c + good.slice(i + 1)),
    fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([h, p]) => `${b64(h)}.${b64(p)}.${good.split(".")[2]}`),
    fc
      .record({ alg: fc.constantFrom("none", "HS256", "ES256", "RS256", "EdDSA", ""), kid: fc.constantFrom("k", "x", "") })
      .map((h) => `${b64(h)}.${good.split(".")[1]}.${good.split(".")[2]}`),
  );

  it("never accepts anything but the untouched token", async () => {
    await fc.assert(
      fc.asyncProperty(tokens, async (token) => {
        let accepted = false;
        let ok = true;
        try {
          await verifyJwtSvid(token, keys, { audience: "api" });
          accepted = true;
        } catch (e) {
          ok = isExpectedError(e);
        }
        ok = ok && (!accepted || token === good);
        tally(ok);
        return ok;
      }),
      { numRuns: RUNS * 10 },
    );
    await expect(verifyJwtSvid(good, keys, { audience: "api" })).resolves.toBeDefined();
  });
});
