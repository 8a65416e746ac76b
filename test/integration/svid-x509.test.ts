import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ABORTING_DSA_SPKI, csrWithKey, infinitySpki } from "../helpers/hostile-keys.js";
import { openssl, opensslCsr, writeTemp } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { parseCert, splitPem, x509 } from "../helpers/x509.js";

let server: TestServer;
const tmp = tempDir();

function newToken(spiffeId = "spiffe://example.org/web", ttl = "1h"): string {
  const r = runCli(["token", "create", "--spiffe-id", spiffeId, "--ttl", ttl, "--data-dir", server.dataDir]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function issue(csr: string, token: string) {
  return server.request("/v1/svid/x509", { body: { csr, attestation: { type: "join_token", token } } });
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

describe("POST /v1/svid/x509 with a join token", () => {
  it("issues an SVID that openssl verifies against the bundle and chain", async () => {
    const { csrPem } = opensslCsr(tmp.dir);
    const reply = await issue(csrPem, newToken());
    expect(reply.status).toBe(201);
    const body = reply.json<Record<string, string>>();
    expect(body.spiffe_id).toBe("spiffe://example.org/web");
    const leaf = writeTemp(tmp.dir, "leaf.pem", body.certificate as string);
    const chain = writeTemp(tmp.dir, "chain.pem", body.chain as string);
    const bundle = writeTemp(tmp.dir, "bundle.pem", body.bundle as string);
    const v = openssl(["verify", "-CAfile", bundle, "-untrusted", chain, leaf]);
    expect(v.stdout + v.stderr).toContain(": OK");
    expect(v.status).toBe(0);
    expect(body.bundle).toBe(server.bundle);
    expect(splitPem(body.chain as string)[0]).toBe(body.certificate);
    expect(new Date(body.expires_at as string).getTime()).toBe(
      new Date(new X509Certificate(body.certificate as string).validTo).getTime(),
    );
  });

  it("takes the identity from the token only, whatever names the CSR asks for", async () => {
    const { csrPem } = opensslCsr(tmp.dir, "ec-p256", {
      subject: "/CN=admin/O=Evil",
      sans: "URI:spiffe://example.org/admin,URI:spiffe://evil.org/x,DNS:evil.example.com,IP:10.0.0.1",
    });
    const reply = await issue(csrPem, newToken("spiffe://example.org/web"));
    expect(reply.status).toBe(201);
    const cert = parseCert(reply.json<{ certificate: string }>().certificate);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: "url", value: "spiffe://example.org/web" }]);
    expect(cert.subject).toBe("O=Tessera");
  });

  it("follows the X.509-SVID profile exactly", async () => {
    const { csrPem } = opensslCsr(tmp.dir);
    const before = Date.now();
    const reply = await issue(csrPem, newToken());
    const after = Date.now();
    const body = reply.json<{ certificate: string; chain: string; serial: string }>();
    const cert = parseCert(body.certificate);
    const issuer = parseCert(splitPem(body.chain)[1] as string);

    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.critical).toBe(true);
    expect(bc?.ca).toBe(false);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    expect(eku?.usages).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    expect(ski?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(aki?.keyId).toBe(issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    const cdp = openssl(["x509", "-noout", "-ext", "crlDistributionPoints"], body.certificate).stdout;
    expect(cdp).toContain(`URI:${server.crlUrl}/`);
    // serial: positive, ≤ 20 octets, ≥ 64 bits, matches the response
    expect(cert.serialNumber).toBe(body.serial);
    expect(body.serial.length).toBe(32);
    expect(Number.parseInt(body.serial.slice(0, 2), 16)).toBeLessThan(0x80);
    // validity: back-dated 30 s, default TTL 1 h (second precision)
    expect(cert.notBefore.getTime()).toBeGreaterThanOrEqual(Math.floor((before - 30_000) / 1000) * 1000);
    expect(cert.notBefore.getTime()).toBeLessThanOrEqual(after - 29_000);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(3_600_000 + 30_000);
    // exactly the expected extensions, nothing the CSR smuggled in
    expect(cert.extensions.map((e) => e.type).sort()).toEqual(
      ["2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.31", "2.5.29.35", "2.5.29.37"].sort(),
    );
  });

  it.each(["ec-p384", "ed25519", "rsa-2048"] as const)("accepts/%s keys (RSA gets keyEncipherment)", async (keyType) => {
    const { csrPem } = opensslCsr(tmp.dir, keyType);
    const reply = await issue(csrPem, newToken());
    expect(reply.status).toBe(201);
    const cert = parseCert(reply.json<{ certificate: string }>().certificate);
    const usages = cert.getExtension(x509.KeyUsagesExtension)?.usages;
    expect(usages).toBe(
      keyType === "rsa-2048"
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
        : x509.KeyUsageFlags.digitalSignature,
    );
  });

  it("refuses a reused token with 409", async () => {
    const token = newToken();
    expect((await issue(opensslCsr(tmp.dir).csrPem, token)).status).toBe(201);
    const again = await issue(opensslCsr(tmp.dir).csrPem, token);
    expect(again.status).toBe(409);
    expect(again.json()).toEqual({ error: { code: "token_used", message: expect.any(String) } });
  });

  it("gives exactly one certificate when 50 requests race for one token", async () => {
    const token = newToken("spiffe://example.org/race");
    const { csrPem } = opensslCsr(tmp.dir);
    const replies = await Promise.all(Array.from({ length: 50 }, () => issue(csrPem, token)));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const listed = runCli(["cert", "list", "--spiffe-id", "spiffe://example.org/race", "--json", "--data-dir", server.dataDir]);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
  });
});

describe("bad requests get a clear 4xx and change nothing", () => {
  const badCsrCases: Array<[string, () => string, number, string]> = [
    ["rejects/RSA-1024 key", () => opensslCsr(tmp.dir, "rsa-1024").csrPem, 400, "unsupported_key"],
    [
      "rejects/corrupted CSR signature",
      () => {
        const { csrPem } = opensslCsr(tmp.dir);
        const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
        der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
        return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
      },
      400,
      "invalid_csr",
    ],
    [
      "rejects/garbage PEM",
      () => "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
      400,
      "invalid_csr",
    ],
    ["rejects/no PEM at all", () => "hello", 400, "invalid_csr"],
    [
      "rejects/truncated DER",
      () => {
        const { csrPem } = opensslCsr(tmp.dir);
        const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64").subarray(0, 100);
        return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
      },
      400,
      "invalid_csr",
    ],
    ["rejects/a certificate instead of a CSR", () => server.bundle, 400, "invalid_csr"],
    // Node 20 aborts the process that asks such a key for its details: the server must answer, and go on answering
    ["rejects/a key at the point at infinity", () => csrWithKey(infinitySpki()), 400, "invalid_csr"],
    ["rejects/a DSA key with parameters Node 20 aborts on", () => csrWithKey(ABORTING_DSA_SPKI), 400, "unsupported_key"],
  ];

  it.each(badCsrCases)("%s", async (_name, makeCsr, status, code) => {
    const token = newToken("spiffe://example.org/bad-csr");
    const reply = await issue(makeCsr(), token);
    expect(reply.status).toBe(status);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe(code);
    // the token was not consumed: it still works with a good CSR
    expect((await issue(opensslCsr(tmp.dir).csrPem, token)).status).toBe(201);
  });

  const requestCases: Array<[string, () => Parameters<TestServer["request"]>[1], number, string]> = [
    ["rejects/no attestation and no client certificate", () => ({ body: { csr: CSR } }), 401, "unauthenticated"],
    [
      "rejects/unknown token",
      () => ({ body: { csr: CSR, attestation: { type: "join_token", token: "A".repeat(43) } } }),
      401,
      "attestation_failed",
    ],
    [
      "rejects/malformed token",
      () => ({ body: { csr: CSR, attestation: { type: "join_token", token: "a b" } } }),
      401,
      "attestation_failed",
    ],
    ["rejects/unknown attestation type", () => ({ body: { csr: CSR, attestation: { type: "magic" } } }), 400, "bad_request"],
    ["rejects/attestation not an object", () => ({ body: { csr: CSR, attestation: "join_token" } }), 400, "bad_request"],
    [
      "rejects/csr not a string",
      () => ({ body: { csr: 42, attestation: { type: "join_token", token: "x" } } }),
      400,
      "bad_request",
    ],
    ["rejects/body not an object", () => ({ body: [1, 2] }), 400, "bad_request"],
    ["rejects/invalid JSON", () => ({ rawBody: "{nope", headers: { "content-type": "application/json" } }), 400, "bad_request"],
    [
      "rejects/wrong media type",
      () => ({ rawBody: "csr=x", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      415,
      "unsupported_media_type",
    ],
    ["rejects/oversized body", () => ({ body: { csr: "A".repeat(100_000) } }), 413, "payload_too_large"],
    ["rejects/no CSR and no client certificate", () => ({ body: {} }), 400, "bad_request"],
  ];
  let CSR = "";

  it.each(requestCases)("%s", async (_name, makeOpts, status, code) => {
    CSR ||= opensslCsr(tmp.dir).csrPem;
    const before = runCli(["cert", "list", "--json", "--data-dir", server.dataDir]).stdout;
    const reply = await server.request("/v1/svid/x509", { method: "POST", ...makeOpts() });
    expect(reply.status).toBe(status);
    expect(reply.json<{ error: { code: string; message: string } }>().error).toEqual({ code, message: expect.any(String) });
    expect(runCli(["cert", "list", "--json", "--data-dir", server.dataDir]).stdout).toBe(before);
  });

  it("rejects/expired token with 401", async () => {
    const token = newToken("spiffe://example.org/late", "1s");
    await new Promise((r) => setTimeout(r, 1100));
    const reply = await issue(opensslCsr(tmp.dir).csrPem, token);
    expect(reply.status).toBe(401);
  });

  it("answers unknown routes with a JSON 404", async () => {
    const reply = await server.request("/v1/nothing");
    expect(reply.status).toBe(404);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("not_found");
  });

  it.each([
    ["GET", "/v1/svid/x509", "POST"],
    ["PUT", "/v1/svid/jwt", "POST"],
    ["DELETE", "/v1/crl", "GET, HEAD"],
    ["POST", "/.well-known/jwks.json", "GET, HEAD"],
  ])("answers %s %s (a known path, another method) with a JSON 405 and Allow: %s", async (method, path, allow) => {
    const reply = await server.request(path, { method });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe(allow);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("method_not_allowed");
  });
});
