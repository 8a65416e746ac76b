import { webcrypto, X509Certificate } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { JoinTokenAttestor } from "../../src/attest/join-token.js";
import { initializeCa } from "../../src/ca/init-ca.js";
import { openCa } from "../../src/ca/open-ca.js";
import { ManualClock } from "../../src/clock.js";
import { CrlService } from "../../src/crl/crl-service.js";
import { createJoinToken } from "../../src/flows/create-join-token.js";
import { issueJwtSvid } from "../../src/flows/issue-jwt.js";
import { issueX509Svid } from "../../src/flows/issue-x509.js";
import { jwtSigningJwk } from "../../src/jwt/jwks.js";
import { tempDir } from "../helpers/tmp.js";
import { splitPem, x509 } from "../helpers/x509.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("a month of automatic rotations", () => {
  it("never leaves a valid credential unverifiable, and never signs with an unpublished key", async () => {
    const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
    const dataDir = `${tmp.dir}/sim`;
    await initializeCa(
      dataDir,
      { trustDomain: "example.org", keyType: "ec-p256", rootTtlMs: 400 * DAY, caTtlMs: DAY, jwtKeyTtlMs: DAY },
      {},
      clock,
    );
    const { store, ca, lifecycle } = await openCa(dataDir, {}, clock);
    const crl = new CrlService(store, ca, clock);
    const attestors = new Map([["join_token", new JoinTokenAttestor(store, clock)]]);
    const x509Deps = {
      store,
      ca,
      clock,
      attestors,
      crlBaseUrl: "http://127.0.0.1/v1/crl",
      defaultTtlMs: HOUR,
    };
    const jwtDeps = { store, ca, clock, attestors, issuer: "https://ca.example", defaultTtlMs: 15 * 60_000 };

    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = await webcrypto.subtle.generateKey(alg, false, ["sign", "verify"]);
    const csr = (await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=w", keys, signingAlgorithm: alg })).toString(
      "pem",
    );

    const published = async () => ({
      roots: ca.published("x509_root").map((k) => new X509Certificate(k.record.certificateDer as Buffer)),
      jwks: { keys: await Promise.all(ca.published("jwt").map(jwtSigningJwk)) },
    });
    const live: {
      certs: Array<{ leaf: X509Certificate; issuer: X509Certificate; notAfter: number }>;
      tokens: Array<{ token: string; exp: number }>;
    } = {
      certs: [],
      tokens: [],
    };
    const kidsSeen = new Set<string>();
    const issuersSeen = new Set<string>();
    let checks = 0;

    for (let t = 0; t < 30 * DAY; t += 20 * 60_000) {
      clock.advance(20 * 60_000);
      await lifecycle.tick();
      await crl.refresh();
      const now = clock.now().getTime();
      const before = await published();

      // issue one X.509-SVID and one JWT-SVID at this moment
      const { token } = await createJoinToken(
        { store, clock, trustDomain: "example.org" },
        { spiffeId: "spiffe://example.org/w", ttlMs: HOUR, actor: "sim" },
      );
      const svid = await issueX509Svid(x509Deps, { csr, attestation: { type: "join_token", token } });
      const [leafPem, issuerPem] = splitPem(svid.chainPem);
      const leaf = new X509Certificate(leafPem as string);
      const issuer = new X509Certificate(issuerPem as string);
      expect(
        before.roots.some((r) => issuer.checkIssued(r) && issuer.verify(r.publicKey)),
        "intermediate chains to an already published root",
      ).toBe(true);
      live.certs.push({ leaf, issuer, notAfter: Date.parse(leaf.validTo) });
      issuersSeen.add(issuer.fingerprint256);

      const peer = {
        spiffeId: svid.spiffeId,
        serial: svid.serial,
        notAfter: svid.expiresAt.getTime(),
        attestation: "join_token",
        entryId: null,
      };
      const jwt = await issueJwtSvid(jwtDeps, { audience: ["api"], peer });
      const kid = decodeProtectedHeader(jwt.token).kid as string;
      expect(
        before.jwks.keys.map((k) => k.kid),
        "JWT key published before it signs",
      ).toContain(kid);
      live.tokens.push({ token: jwt.token, exp: jwt.expiresAt.getTime() });
      kidsSeen.add(kid);

      // everything unexpired verifies against what is published now
      const after = await published();
      live.certs = live.certs.filter((c) => c.notAfter > now);
      for (const c of live.certs) {
        expect(c.leaf.verify(c.issuer.publicKey)).toBe(true);
        expect(Date.parse(c.issuer.validTo)).toBeGreaterThan(now);
        expect(after.roots.some((r) => c.issuer.verify(r.publicKey) && Date.parse(r.validTo) > now)).toBe(true);
        checks++;
      }
      live.tokens = live.tokens.filter((k) => k.exp > now);
      const jwks = createLocalJWKSet(after.jwks);
      for (const k of live.tokens) {
        await jwtVerify(k.token, jwks, { audience: "api", currentDate: clock.now() });
        checks++;
      }
      // every issuing CA still in use has a current CRL
      for (const c of live.certs) {
        const id = ca.records().find((r) => r.certificateDer?.equals(c.issuer.raw))?.id;
        expect(crl.get(id)?.nextUpdate).toBeGreaterThan(now);
      }
    }

    // a month of 1-day keys: about 40 rotations of each kind (one per 5/6 day)
    expect(kidsSeen.size).toBeGreaterThan(30);
    expect(issuersSeen.size).toBeGreaterThan(30);
    expect(checks).toBeGreaterThan(5000);
    // retired keys are dropped once expired: what is published stays small
    expect(ca.published("jwt").length).toBeLessThanOrEqual(3);
    expect(ca.published("x509_intermediate").length).toBeLessThanOrEqual(3);

    // and their private keys erased: in the database, in memory, with an audit row each
    const now = clock.now().getTime();
    const records = await store.listCaKeys();
    const over = records.filter((r) => r.state === "retired" && r.notAfter <= now);
    expect(over.length).toBeGreaterThan(60);
    for (const r of over) {
      expect(r.encryptedPrivateKey.length, r.id).toBe(0);
      expect(r.destroyedAt, r.id).toBeGreaterThanOrEqual(r.notAfter);
      expect(ca.get(r.id), r.id).toBeUndefined();
    }
    for (const r of records.filter((k) => !over.includes(k))) {
      expect(r.encryptedPrivateKey.length, r.id).toBeGreaterThan(0);
      expect(r.destroyedAt, r.id).toBeNull();
    }
    expect(ca.records()).toHaveLength(records.length); // `ca status` still shows every key
    const destroyedInAudit = (await store.listAudit({ afterSeq: 0, limit: 100_000 }))
      .filter((a) => a.action === "ca.key.destroy")
      .map((a) => a.subject);
    expect(destroyedInAudit.sort()).toEqual(over.map((r) => r.id).sort());
    store.close();

    // a restart loads only the live keys (an erased one could not be decrypted) and issues at once
    const reopened = await openCa(dataDir, {}, clock);
    try {
      expect(reopened.ca.records()).toHaveLength(records.length);
      const { token } = await createJoinToken(
        { store: reopened.store, clock, trustDomain: "example.org" },
        { spiffeId: "spiffe://example.org/w", ttlMs: HOUR, actor: "sim" },
      );
      const svid = await issueX509Svid(
        {
          ...x509Deps,
          store: reopened.store,
          ca: reopened.ca,
          attestors: new Map([["join_token", new JoinTokenAttestor(reopened.store, clock)]]),
        },
        { csr, attestation: { type: "join_token", token } },
      );
      expect(svid.spiffeId).toBe("spiffe://example.org/w");
    } finally {
      reopened.store.close();
    }
  }, 120_000);
});
