import { X509Certificate } from "node:crypto";
import { exportJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair } from "../../src/crypto/key-types.js";
import { Signer } from "../../src/crypto/signer.js";
import { JwtSvidMinter, newJti } from "../../src/jwt/mint-jwt-svid.js";
import { JwksCache } from "../../src/sdk/jwks-cache.js";
import { JwtSvidVerifier } from "../../src/sdk/jwt-svid-verifier.js";
import { X509SvidVerifier, type X509SvidVerifierOptions } from "../../src/sdk/x509-svid-verifier.js";
import { call } from "../helpers/https-client.js";
import { writeTemp } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload, type WorkloadSvid } from "../helpers/workload.js";

const tmp = tempDir();
let server: TestServer;
let web: WorkloadSvid;
let bundleFile: string;

beforeAll(async () => {
  server = await startTestServer();
  web = await bootWorkload(server, "spiffe://example.org/web", tmp.dir);
  bundleFile = writeTemp(tmp.dir, "bundle.pem", server.bundle);
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

/** The CLI runs in another process; spawnSync would block this process's in-process server. */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const { execFile } = await import("node:child_process");
  const { CLI } = await import("../helpers/server.js");
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("tessera verify cert", () => {
  it("prints the identity of a valid SVID, then fails once the CRL lists it as revoked", async () => {
    const chain = writeTemp(tmp.dir, "web-chain.pem", web.chain);
    const crlUrl = `${server.publicUrl}/v1/crls.pem`;
    const ok = await cli(["verify", "cert", chain, "--bundle", bundleFile, "--crl", crlUrl]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe("spiffe://example.org/web");
    const json = JSON.parse((await cli(["verify", "cert", chain, "--bundle", bundleFile, "--json"])).stdout);
    expect(json).toMatchObject({ valid: true, spiffe_id: "spiffe://example.org/web", serial: web.serial });
    // the data directory's bundle stands in for --bundle; with neither there is nothing to trust
    const local = await cli(["verify", "cert", chain, "--data-dir", server.dataDir]);
    expect(local.status, local.stderr).toBe(0);
    const none = await cli(["verify", "cert", chain, "--data-dir", `${tmp.dir}/not-a-ca`]);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain("give --bundle");

    runCli(["revoke", web.serial, "--data-dir", server.dataDir]);
    const failed = await waitFor(async () => {
      const r = await cli(["verify", "cert", chain, "--bundle", bundleFile, "--crl", crlUrl]);
      return r.status !== 0 ? r : undefined;
    }, 3000);
    expect(failed?.stderr).toContain("revoked");
  });

  it.each([
    ["rejects/a certificate from another CA", async () => (await bootOther()).chain, "does not chain to a trusted root"],
    ["rejects/a leaf without its intermediate, saying so", async () => web.certificate, "not the leaf alone"],
    ["rejects/a CA certificate presented as an SVID", async () => server.bundle, "exactly one spiffe://"],
    ["rejects/garbage", async () => "hello", "no certificate"],
  ])("%s", async (_name, make, message) => {
    const file = writeTemp(tmp.dir, `bad-${Math.random()}.pem`, await make());
    const r = await cli(["verify", "cert", file, "--bundle", bundleFile]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it("rejects/fails closed, saying why, when the CRL cannot be fetched", async () => {
    const chain = writeTemp(tmp.dir, "web-chain2.pem", web.chain);
    const gone = await cli(["verify", "cert", chain, "--bundle", bundleFile, "--crl", `${server.publicUrl}/v1/no-such-crl`]);
    expect(gone.status).not.toBe(0);
    expect(gone.stderr).toContain("cannot load the CRL");
    expect(gone.stderr).toContain("HTTP 404");
  });

  it("rejects/fails closed when the CRL comes from another issuer", async () => {
    const other = await startTestServer();
    try {
      const crl = writeTemp(tmp.dir, "other-crl.der", (await call(`${other.publicUrl}/v1/crl`)).body);
      const fresh = await bootWorkload(server, "spiffe://example.org/fresh", tmp.dir);
      const r = await cli(["verify", "cert", writeTemp(tmp.dir, "fresh.pem", fresh.chain), "--bundle", bundleFile, "--crl", crl]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain("no valid CRL");
    } finally {
      await other.stop();
    }
  });
});

async function bootOther(): Promise<WorkloadSvid> {
  const other = await startTestServer();
  try {
    return await bootWorkload(other, "spiffe://example.org/web", tmp.dir);
  } finally {
    await other.stop();
  }
}

describe("tessera verify jwt", () => {
  it("accepts the right audience and fails for a wrong one", async () => {
    const fresh = await bootWorkload(server, "spiffe://example.org/caller", tmp.dir);
    const reply = await server.request("/v1/svid/jwt", { body: { audience: ["billing"] }, cert: fresh.chain, key: fresh.keyPem });
    const token = reply.json<{ token: string }>().token;
    const jwks = `${server.apiUrl}/.well-known/jwks.json`;
    const ok = await cli(["verify", "jwt", token, "--jwks", jwks, "--audience", "billing", "--bundle", bundleFile]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe("spiffe://example.org/caller");
    const wrong = await cli(["verify", "jwt", token, "--jwks", jwks, "--audience", "payments", "--bundle", bundleFile]);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain("aud");
    const file = writeTemp(tmp.dir, "jwks.json", (await server.request("/.well-known/jwks.json")).text());
    expect((await cli(["verify", "jwt", token, "--jwks", file, "--audience", "billing"])).status).toBe(0);
    // on the CA's machine the data directory's bundle stands in for --bundle
    const local = await cli(["verify", "jwt", token, "--jwks", jwks, "--audience", "billing", "--data-dir", server.dataDir]);
    expect(local.status, local.stderr).toBe(0);
    expect(local.stdout.trim()).toBe("spiffe://example.org/caller");
  });

  it("says why when the JWKS cannot be loaded, instead of blaming the token", async () => {
    const fresh = await bootWorkload(server, "spiffe://example.org/caller2", tmp.dir);
    const reply = await server.request("/v1/svid/jwt", { body: { audience: ["billing"] }, cert: fresh.chain, key: fresh.keyPem });
    const token = reply.json<{ token: string }>().token;
    // Tessera's own https endpoint without --bundle: the system store does not know its root
    const untrusted = await cli([
      "verify",
      "jwt",
      token,
      "--jwks",
      `${server.apiUrl}/.well-known/jwks.json`,
      "--audience",
      "billing",
      "--data-dir",
      `${tmp.dir}/not-a-ca`,
    ]);
    expect(untrusted.status).not.toBe(0);
    expect(untrusted.stderr).toMatch(/cannot load the JWKS https:.*(certificate|issuer).*pass --bundle/);
    expect(untrusted.stderr).not.toContain("malformed");
    const missing = await cli(["verify", "jwt", token, "--jwks", `${tmp.dir}/no-such.json`, "--audience", "billing"]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("ENOENT");
  });
});

/** A fetch that counts its calls. */
function countingFetch() {
  const counter = {
    count: 0,
    fetch: (u: string) => {
      counter.count++;
      return fetch(u);
    },
  };
  return counter;
}

/** A verifier of the shared server's SVIDs, checking revocation against all its CRLs. */
function crlVerifier(crls: ReturnType<typeof countingFetch>, extra: Partial<X509SvidVerifierOptions> = {}) {
  return new X509SvidVerifier({ bundlePem: server.bundle, crl: `${server.publicUrl}/v1/crls.pem`, fetch: crls.fetch, ...extra });
}

describe("SDK verifiers", () => {
  it("X509SvidVerifier caches the CRL until its nextUpdate", async () => {
    const crls = countingFetch();
    const verifier = crlVerifier(crls);
    const fresh = await bootWorkload(server, "spiffe://example.org/cached", tmp.dir);
    for (let i = 0; i < 5; i++) expect((await verifier.verify(fresh.chain)).spiffeId).toBe("spiffe://example.org/cached");
    expect(crls.count).toBe(1);
  });

  it("JwksCache honours max-age, revalidates with If-None-Match, and refetches on an unknown kid no more often than its floor", async () => {
    const signer = new Signer(generateKeyPair("ec-p256").privateKey);
    const jwk = { ...(await exportJWK(signer.publicKey)), kid: "k1", alg: "ES256" };
    let served = { keys: [jwk] };
    let t = 0;
    const seen: Array<string | undefined> = [];
    const fetchImpl = async (_u: string, init?: { headers?: Record<string, string> }) => {
      seen.push(init?.headers?.["if-none-match"]);
      const etag = `"${served.keys.map((k) => k.kid).join(",")}"`;
      if (init?.headers?.["if-none-match"] === etag)
        return new Response(null, { status: 304, headers: { "cache-control": "max-age=60", etag } });
      return new Response(JSON.stringify(served), { status: 200, headers: { "cache-control": "max-age=60", etag } });
    };
    const verifier = new JwtSvidVerifier({
      source: "https://jwks.test/jwks.json",
      fetch: fetchImpl,
      audience: "api",
      minRefreshMs: 10_000,
      now: () => t,
    });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: "spiffe://example.org/a", aud: ["api"], iss: "x", iat: now, exp: now + 300, jti: newJti() };
    const k1 = new JwtSvidMinter(signer, "k1");
    await verifier.verify(await k1.mint(claims));
    await verifier.verify(await k1.mint(claims));
    expect(verifier.jwks.fetches).toBe(1);
    t += 61_000; // max-age passed: revalidate
    await verifier.verify(await k1.mint(claims));
    expect(verifier.jwks.fetches).toBe(2);
    expect(seen[1]).toBe('"k1"');

    const signer2 = new Signer(generateKeyPair("ec-p256").privateKey);
    const k2 = new JwtSvidMinter(signer2, "k2");
    const unknown = await k2.mint(claims);
    await expect(verifier.verify(unknown)).rejects.toThrow(); // floor not reached since the last fetch
    expect(verifier.jwks.fetches).toBe(2);
    served = { keys: [jwk, { ...(await exportJWK(signer2.publicKey)), kid: "k2", alg: "ES256" }] };
    t += 11_000;
    await expect(verifier.verify(unknown)).resolves.toMatchObject({ kid: "k2" });
    expect(verifier.jwks.fetches).toBe(3);
    for (let i = 0; i < 20; i++)
      await expect(verifier.verify(await new JwtSvidMinter(signer2, `junk-${i}`).mint(claims))).rejects.toThrow();
    expect(verifier.jwks.fetches).toBe(3);
  });

  it("JwksCache reads a local JWKS file", async () => {
    const file = writeTemp(tmp.dir, "local-jwks.json", (await server.request("/.well-known/jwks.json")).text());
    const cache = new JwksCache({ source: file });
    const fresh = await bootWorkload(server, "spiffe://example.org/local", tmp.dir);
    const token = (
      await server.request("/v1/svid/jwt", { body: { audience: ["a"] }, cert: fresh.chain, key: fresh.keyPem })
    ).json<{ token: string }>().token;
    const verifier = new JwtSvidVerifier({ source: file, audience: "a" });
    await expect(verifier.verify(token)).resolves.toMatchObject({ spiffeId: "spiffe://example.org/local" });
    expect(cache.fetches).toBe(0);
  });

  // last in the file: it rotates the issuing CA of the shared server
  it("X509SvidVerifier fetches the CRLs again for a new issuing CA, no more often than its floor", async () => {
    let t = Date.now();
    const crls = countingFetch();
    const verifier = crlVerifier(crls, { now: () => new Date(t), minRefreshMs: 10_000 });
    const before = await bootWorkload(server, "spiffe://example.org/before-rotation", tmp.dir);
    await verifier.verify(before.chain);
    expect(crls.count).toBe(1);

    const oldIssuer = x509Issuer(before.chain);
    expect(runCli(["rotate", "x509", "--now", "--data-dir", server.dataDir]).status).toBe(0);
    const renewed = await waitFor(async () => {
      const svid = await bootWorkload(server, "spiffe://example.org/after-rotation", tmp.dir);
      return x509Issuer(svid.chain) === oldIssuer ? undefined : svid;
    }, 5000);
    if (!renewed) throw new Error("the server did not switch to the new issuing CA");

    await expect(verifier.verify(renewed.chain)).rejects.toThrow(/no valid CRL/);
    expect(crls.count, "the floor holds").toBe(1);
    t += 10_000;
    await expect(verifier.verify(renewed.chain)).resolves.toMatchObject({ spiffeId: "spiffe://example.org/after-rotation" });
    expect(crls.count).toBe(2);
    await expect(verifier.verify(before.chain), "the old issuer's CRL is still there").resolves.toBeDefined();
  });
});

function x509Issuer(chainPem: string): string {
  return new X509Certificate(chainPem.slice(0, chainPem.indexOf("-----END CERTIFICATE-----") + 25)).issuer;
}
