import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GoResult, goServer, goVerifier, goVerifierAsync } from "../helpers/go-verifier.js";
import { call } from "../helpers/https-client.js";
import { type CsrKey, openssl, opensslCsr, writeTemp } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload, type WorkloadSvid } from "../helpers/workload.js";

// Go's standard library as the relying party: crypto/x509 for chains and CRLs,
// crypto/tls for mutual TLS in both directions (test/interop/go-verifier).

const tmp = tempDir();
let server: TestServer;
let other: TestServer;
let web: WorkloadSvid;
let stranger: WorkloadSvid;

interface Files {
  chain: string;
  key: string;
  bundle: string;
}

function files(svid: WorkloadSvid, name: string): Files {
  return {
    chain: writeTemp(tmp.dir, `${name}-chain.pem`, svid.chain),
    key: writeTemp(tmp.dir, `${name}-key.pem`, svid.keyPem),
    bundle: writeTemp(tmp.dir, `${name}-bundle.pem`, svid.bundle),
  };
}

/** The Go client: one HTTPS request with `svid`'s chain and key, trusting `bundle`. */
function goClient(
  url: string,
  svid: Files,
  opts: { bundle?: string; body?: unknown; serverId?: string } = {},
): Promise<GoResult> {
  const args = ["client", "--url", url, "--cert", svid.chain, "--key", svid.key, "--bundle", opts.bundle ?? svid.bundle];
  if (opts.body !== undefined) args.push("--body", JSON.stringify(opts.body));
  if (opts.serverId) args.push("--server-id", opts.serverId);
  return goVerifierAsync(args);
}

interface GoCrl {
  number: string;
  aki: string;
  revoked: Array<{ serial: string; reason: number }>;
}

/** The CRL a certificate names, fetched over plain HTTP and saved as DER. */
async function fetchCrl(svid: WorkloadSvid, name: string): Promise<string> {
  const cdp = /URI:(\S+)/.exec(openssl(["x509", "-noout", "-ext", "crlDistributionPoints"], svid.certificate).stdout)?.[1];
  const reply = await call(cdp as string);
  expect(reply.status).toBe(200);
  return writeTemp(tmp.dir, name, reply.body);
}

function issuingCa(svid: WorkloadSvid): string {
  const pems = svid.chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  return pems[1] as string;
}

beforeAll(async () => {
  server = await startTestServer();
  other = await startTestServer();
  web = await bootWorkload(server, "spiffe://example.org/web", tmp.dir);
  stranger = await bootWorkload(other, "spiffe://example.org/web", tmp.dir);
});

afterAll(async () => {
  await server?.stop();
  await other?.stop();
  tmp.cleanup();
});

describe("Go's crypto/x509 and crypto/tls as the relying party", () => {
  it("verifies an X.509-SVID to the bundle for client and for server use, its SPIFFE ID the only URI", () => {
    const f = files(web, "web");
    for (const usage of ["client", "server"]) {
      const r = goVerifier(["verify", "--chain", f.chain, "--bundle", f.bundle, "--usage", usage]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ spiffe_id: "spiffe://example.org/web", chain_length: 3 });
      expect(r.json<{ serial: string }>().serial).toBe(web.serial.toLowerCase().replace(/^0+/, ""));
    }
  });

  it.each([
    ["ec-p384", "ed25519"],
    ["ed25519", "rsa-2048"],
    ["rsa-2048", "ec-p384"],
  ] as const)("verifies SVIDs of a %s CA for a %s workload key, and its CRL", async (caKey, workloadKey) => {
    const ca = await startTestServer({ keyType: caKey });
    try {
      const svid = await bootWorkload(ca, "spiffe://example.org/svc", tmp.dir, workloadKey as CsrKey);
      const f = files(svid, `${caKey}-${workloadKey}`);
      const crl = await fetchCrl(svid, `${caKey}.crl`);
      const r = goVerifier(["verify", "--chain", f.chain, "--bundle", f.bundle, "--crl", crl]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ spiffe_id: "spiffe://example.org/svc", chain_length: 3 });
    } finally {
      await ca.stop();
    }
  });

  it("rejects/an SVID of the same trust domain from another CA: unknown authority", () => {
    const r = goVerifier(["verify", "--chain", files(stranger, "stranger").chain, "--bundle", files(web, "web").bundle]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("certificate signed by unknown authority");
  });

  it("parses the served CRL, checks its signature and AKI against the issuing CA, and sees a revocation with its reason", async () => {
    const victim = await bootWorkload(server, "spiffe://example.org/victim", tmp.dir);
    const revoked = runCli(["revoke", victim.serial, "--reason", "keyCompromise", "--data-dir", server.dataDir]);
    expect(revoked.status, revoked.stderr).toBe(0);
    const issuer = writeTemp(tmp.dir, "issuer.pem", issuingCa(victim));
    const serial = victim.serial.toLowerCase().replace(/^0+/, "");
    const crl = await waitFor(async () => {
      const r = goVerifier(["crl", "--crl", await fetchCrl(victim, "served.crl"), "--issuer", issuer]);
      expect(r.status, r.stderr).toBe(0);
      const parsed = r.json<GoCrl>();
      return parsed.revoked.some((e) => e.serial === serial) ? parsed : undefined;
    }, 5_000);
    expect(crl?.revoked.find((e) => e.serial === serial)?.reason).toBe(1);
    const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(
      openssl(["x509", "-noout", "-text"], issuingCa(victim)).stdout,
    )?.[1];
    expect(crl?.aki).toBe(ski?.replace(/:/g, "").toLowerCase());
    expect(Number(crl?.number)).toBeGreaterThan(0);

    const crlPath = await fetchCrl(victim, "served.crl");
    const f = files(victim, "victim");
    const refused = goVerifier(["verify", "--chain", f.chain, "--bundle", f.bundle, "--crl", crlPath]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("is revoked");
    const w = files(web, "web");
    expect(goVerifier(["verify", "--chain", w.chain, "--bundle", w.bundle, "--crl", crlPath]).status).toBe(0);
  });

  it("rejects/a CRL with one bit of its signature flipped, and a CRL signed by another CA", async () => {
    const issuer = writeTemp(tmp.dir, "issuer.pem", issuingCa(web));
    const { readFileSync } = await import("node:fs");
    const der = readFileSync(await fetchCrl(web, "good.crl"));
    const flipped = Buffer.from(der);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
    const bad = goVerifier(["crl", "--crl", writeTemp(tmp.dir, "flipped.crl", flipped), "--issuer", issuer]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("CRL signature");
    const foreign = goVerifier(["crl", "--crl", await fetchCrl(stranger, "foreign.crl"), "--issuer", issuer]);
    expect(foreign.status).not.toBe(0);
    expect(foreign.stderr).toContain("CRL signature");
  });

  it("a Go client calls Tessera over mutual TLS with its SVID, checks the server's name, and gets a JWT-SVID", async () => {
    const f = files(web, "web");
    const r = await goClient(`${server.apiUrl}/v1/svid/jwt`, f, { body: { audience: ["payments"] } });
    expect(r.status, r.stderr).toBe(0);
    const out = r.json<{ status: number; body: string; server_uris: string[] }>();
    expect(out.status, out.body).toBe(201);
    expect(JSON.parse(out.body)).toMatchObject({ spiffe_id: "spiffe://example.org/web" });
    expect(out.server_uris).toEqual(["spiffe://example.org/tessera/server"]);
  });

  it("a Go client renews its X.509-SVID over mutual TLS for a new key, and Go verifies the new one", async () => {
    const f = files(web, "web");
    const { csrPem, keyPem } = opensslCsr(tmp.dir, "ec-p256");
    const r = await goClient(`${server.apiUrl}/v1/svid/x509`, f, { body: { csr: csrPem } });
    expect(r.status, r.stderr).toBe(0);
    const out = r.json<{ status: number; body: string }>();
    expect(out.status, out.body).toBe(201);
    const renewed = { ...JSON.parse(out.body), keyPem } as WorkloadSvid;
    expect(renewed.spiffe_id).toBe("spiffe://example.org/web");
    expect(renewed.serial).not.toBe(web.serial);
    const n = files(renewed, "renewed");
    const verified = goVerifier(["verify", "--chain", n.chain, "--bundle", n.bundle]);
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.json()).toMatchObject({ spiffe_id: "spiffe://example.org/web" });
  });

  it("rejects/a Go client whose SVID comes from another CA: Tessera answers 401 and no token", async () => {
    const r = await goClient(`${server.apiUrl}/v1/svid/jwt`, files(stranger, "stranger"), {
      bundle: files(web, "web").bundle,
      body: { audience: ["payments"] },
    });
    // The handshake completes (the certificate is optional at the TLS layer: join-token
    // callers have none); the API then refuses it.
    expect(r.status, r.stderr).toBe(0);
    const out = r.json<{ status: number; body: string }>();
    expect(out.status).toBe(401);
    expect(JSON.parse(out.body)).toMatchObject({ error: { code: expect.any(String) } });
    expect(out.body).not.toContain('"token"');
  });

  it("a Go service with a Tessera SVID accepts a Tessera caller by SPIFFE ID and turns away one from another CA", async () => {
    const greeter = await bootWorkload(server, "spiffe://example.org/greeter", tmp.dir);
    const g = files(greeter, "greeter");
    const svc = await goServer(["--cert", g.chain, "--key", g.key, "--bundle", g.bundle]);
    try {
      const greet = (f: Files, serverId = "spiffe://example.org/greeter") =>
        goClient(`https://127.0.0.1:${svc.port}/`, f, { bundle: g.bundle, serverId });
      const ok = await greet(files(web, "web"));
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.json()).toMatchObject({ status: 200, body: "hello spiffe://example.org/web" });

      const refused = await greet(files(stranger, "stranger"));
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/tls|certificate/i);

      const wrongServer = await greet(files(web, "web"), "spiffe://example.org/billing");
      expect(wrongServer.status).not.toBe(0);
      expect(wrongServer.stderr).toContain("want spiffe://example.org/billing");
    } finally {
      await svc.stop();
    }
  });
});
