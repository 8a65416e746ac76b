import { generateKeyPairSync } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { X509SvidVerifier } from "../../src/sdk/x509-svid-verifier.js";
import { newSerial } from "../../src/x509/certificate.js";
import { certificateParts } from "../../src/x509/certificate-info.js";
import { uriConstraintViolation } from "../../src/x509/name-constraints.js";
import { pemEncode } from "../../src/x509/pem.js";
import { buildIntermediateCertificate, buildRootCertificate, LeafIssuer } from "../../src/x509/profile.js";
import { goVerifier } from "../helpers/go-verifier.js";
import { openssl, writeTemp } from "../helpers/openssl.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const now = Date.now();
const root = new Signer(generateKeyPair("ec-p256").privateKey);
const rootDer = buildRootCertificate(root, {
  trustDomain: "example.org",
  notBefore: new Date(now - 60_000),
  notAfter: new Date(now + 86_400_000),
});
const ca = new Signer(generateKeyPair("ec-p256").privateKey);
const caDer = buildIntermediateCertificate({ signer: root, subjectName: certificateParts(rootDer).subjectName }, ca.spki, {
  trustDomain: "example.org",
  notBefore: new Date(now - 60_000),
  notAfter: new Date(now + 3_600_000),
  label: "t",
});
const issuer = new LeafIssuer({ signer: ca, subjectName: certificateParts(caDer).subjectName }, "http://127.0.0.1/v1/crl/t");

async function leafFor(spiffeId: string, dns: string[] = []): Promise<string> {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return pemEncode(
    await issuer.issue({
      spiffeId,
      dnsNames: dns,
      spki: publicKey.export({ type: "spki", format: "der" }),
      isRsa: false,
      serial: newSerial(),
      notBefore: now - 30_000,
      notAfter: now + 600_000,
    }),
    "CERTIFICATE",
  );
}

function verify(leafPem: string) {
  return openssl([
    "verify",
    "-CAfile",
    writeTemp(tmp.dir, "root.pem", pemEncode(rootDer, "CERTIFICATE")),
    "-untrusted",
    writeTemp(tmp.dir, "ca.pem", pemEncode(caDer, "CERTIFICATE")),
    writeTemp(tmp.dir, "leaf.pem", leafPem),
  ]);
}

describe("CA profile", () => {
  it("the intermediate has pathLenConstraint 0 and name constraints permitting only the trust domain's URIs", () => {
    const text = openssl(["x509", "-noout", "-text"], pemEncode(caDer, "CERTIFICATE")).stdout;
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Name Constraints: critical\s+Permitted:\s+URI:example.org\s+Excluded:\s+URI:.example.org\n/);
  });

  it("leaves of the trust domain verify, with DNS names from entries unaffected by URI constraints", async () => {
    expect(verify(await leafFor("spiffe://example.org/web", ["web.internal"])).status).toBe(0);
  });

  it("rejects/a leaf for another trust domain, even signed by the intermediate (openssl: permitted subtree violation)", async () => {
    const r = verify(await leafFor("spiffe://evil.org/web"));
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("permitted subtree violation");
    const sub = verify(await leafFor("spiffe://sub.example.org/web"));
    expect(sub.status).not.toBe(0);
    expect(sub.stdout + sub.stderr).toMatch(/(permitted|excluded) subtree violation/);
  });

  it("rejects/a leaf for another trust domain or a subdomain of it in Go's crypto/x509 too, which accepts the trust domain's own", async () => {
    const bundle = writeTemp(tmp.dir, "go-root.pem", pemEncode(rootDer, "CERTIFICATE"));
    const go = async (spiffeId: string, dns: string[] = []) =>
      goVerifier([
        "verify",
        "--chain",
        writeTemp(tmp.dir, "go-chain.pem", (await leafFor(spiffeId, dns)) + pemEncode(caDer, "CERTIFICATE")),
        "--bundle",
        bundle,
      ]);
    const ok = await go("spiffe://example.org/web", ["web.internal"]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.json()).toMatchObject({ spiffe_id: "spiffe://example.org/web", dns_names: ["web.internal"] });
    const r = await go("spiffe://evil.org/web");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("not permitted by any constraint");
    // Go before the fix for CVE-2026-78665 (Debian's 1.19 among them) reads the permitted
    // `example.org` as including subdomains; the excluded `.example.org` refuses them there too.
    const sub = await go("spiffe://sub.example.org/web");
    expect(sub.status).not.toBe(0);
    expect(sub.stderr).toMatch(/excluded by constraint|not permitted by any constraint/);
  });

  it("rejects/the same leaf in Tessera's own verifier, which applies the intermediate's name constraints", async () => {
    const verifier = new X509SvidVerifier({ bundlePem: pemEncode(rootDer, "CERTIFICATE") });
    const chain = (leaf: string) => leaf + pemEncode(caDer, "CERTIFICATE");
    await expect(verifier.verify(chain(await leafFor("spiffe://example.org/web")))).resolves.toMatchObject({
      spiffeId: "spiffe://example.org/web",
    });
    await expect(verifier.verify(chain(await leafFor("spiffe://evil.org/web")))).rejects.toThrow(
      /outside the issuer's permitted names/,
    );
    await expect(verifier.verify(chain(await leafFor("spiffe://sub.example.org/web")))).rejects.toThrow(/permitted names/);
  });

  it.each([
    ["spiffe://example.org/a", { permitted: ["example.org"], excluded: [] }, true],
    ["spiffe://EXAMPLE.org/a", { permitted: ["example.org"], excluded: [] }, true],
    ["spiffe://x.example.org/a", { permitted: ["example.org"], excluded: [] }, false],
    ["spiffe://x.example.org/a", { permitted: [".example.org"], excluded: [] }, true],
    ["spiffe://example.org/a", { permitted: [".example.org"], excluded: [] }, false],
    ["spiffe://badexample.org/a", { permitted: [".example.org"], excluded: [] }, false],
    ["spiffe://example.org/a", { permitted: [], excluded: ["example.org"] }, false],
    ["spiffe://other.org/a", { permitted: [], excluded: ["example.org"] }, true],
  ])("URI constraint matching per RFC 5280: %s against %j → %s", (uri, constraints, ok) => {
    expect(uriConstraintViolation(uri, constraints) === undefined).toBe(ok);
  });
});

describe("serial numbers", () => {
  it("are 16 positive octets that sort in issuance order, with 80 random bits after the time", () => {
    const t = Date.parse("2027-03-01T12:00:00Z");
    const a = newSerial(t);
    const b = newSerial(t);
    const later = newSerial(t + 1);
    for (const s of [a, b, later]) {
      expect(s).toHaveLength(16);
      expect((s[0] as number) & 0xc0).toBe(0x40); // positive, and never shorter than 16 octets
    }
    expect(a.subarray(0, 6).equals(b.subarray(0, 6))).toBe(true);
    expect(a.subarray(6).equals(b.subarray(6))).toBe(false);
    expect(later.toString("hex") > a.toString("hex") && later.toString("hex") > b.toString("hex")).toBe(true);
    const farFuture = newSerial(Date.parse("4100-01-01T00:00:00Z"));
    expect((farFuture[0] as number) & 0xc0).toBe(0x40);
    expect(farFuture.toString("hex") > later.toString("hex")).toBe(true);
  });
});
