import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { opensslCsr, writeTemp } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload, joinToken } from "../helpers/workload.js";
import { parseCert, x509 } from "../helpers/x509.js";

const K8S_ISSUER = "https://kubernetes.default.svc.cluster.local";
const CI_ISSUER = "https://ci.example.test";
const tmp = tempDir();
const clock = new ManualClock();
let server: TestServer;
let jwksServer: Server;
/** A signing key as jose makes it. */
type JoseKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let k8sKey: JoseKey;
let k8sPublic: JWK;
let ciKey: JoseKey;

async function k8sToken(
  ns: string,
  sa: string,
  opts: { aud?: string; exp?: string | number; nbf?: number; iss?: string; key?: JoseKey; kid?: string } = {},
) {
  const jwt = new SignJWT({
    "kubernetes.io": { namespace: ns, serviceaccount: { name: sa, uid: "u-1" }, pod: { name: `${sa}-7d9f`, uid: "p-1" } },
  })
    .setProtectedHeader({ alg: "RS256", kid: opts.kid ?? "k8s-1" })
    .setIssuer(opts.iss ?? K8S_ISSUER)
    .setSubject(`system:serviceaccount:${ns}:${sa}`)
    .setAudience(opts.aud ?? "tessera")
    .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
    .setExpirationTime(opts.exp ?? Math.floor(clock.now().getTime() / 1000) + 600);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? k8sKey);
}

function entry(args: string[]): string {
  const r = runCli(["entry", "create", ...args, "--data-dir", server.dataDir]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function certCount(): number {
  return JSON.parse(runCli(["cert", "list", "--json", "--data-dir", server.dataDir]).stdout).length;
}

function issueWithJwt(token: string, extra: Record<string, unknown> = {}) {
  return server.request("/v1/svid/x509", {
    body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "jwt", token }, ...extra },
  });
}

beforeAll(async () => {
  ({ privateKey: k8sKey } = await generateKeyPair("RS256"));
  const k8sPair = await generateKeyPair("RS256", { extractable: true });
  k8sKey = k8sPair.privateKey;
  k8sPublic = { ...(await exportJWK(k8sPair.publicKey)), kid: "k8s-1", alg: "RS256", use: "sig" };
  const ciPair = await generateKeyPair("ES256");
  ciKey = ciPair.privateKey;
  const ciJwks = { keys: [{ ...(await exportJWK(ciPair.publicKey)), kid: "ci-1", alg: "ES256" }] };
  jwksServer = createServer((_req, res) => res.setHeader("content-type", "application/json").end(JSON.stringify(ciJwks)));
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  const config = writeTemp(
    tmp.dir,
    "config.json",
    JSON.stringify({
      jwt_issuers: [
        {
          issuer: K8S_ISSUER,
          audience: "tessera",
          kind: "kubernetes",
          algorithms: ["RS256"],
          jwks_file: writeTemp(tmp.dir, "k8s-jwks.json", JSON.stringify({ keys: [k8sPublic] })),
        },
        {
          issuer: CI_ISSUER,
          audience: "tessera",
          kind: "oidc",
          algorithms: ["ES256"],
          jwks_url: jwksUrl,
          claim_selectors: { repository: "repo" },
        },
      ],
    }),
  );
  server = await startTestServer({ clock, config: { configFile: config } });
  entry([
    "--spiffe-id",
    "spiffe://example.org/payments/api",
    "--selector",
    "k8s:ns:payments",
    "--selector",
    "k8s:sa:api",
    "--dns",
    "api.payments.svc",
  ]);
});

afterAll(async () => {
  await server.stop();
  jwksServer.close();
  tmp.cleanup();
});

describe("jwt attestation with a Kubernetes service-account token", () => {
  it("gives system:serviceaccount:payments:api the entry for k8s:ns:payments + k8s:sa:api, with its DNS names", async () => {
    const reply = await issueWithJwt(await k8sToken("payments", "api"));
    expect(reply.status, reply.text()).toBe(201);
    const body = reply.json<{ spiffe_id: string; certificate: string }>();
    expect(body.spiffe_id).toBe("spiffe://example.org/payments/api");
    const san = parseCert(body.certificate).getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
    expect(san).toEqual([
      { type: "url", value: "spiffe://example.org/payments/api" },
      { type: "dns", value: "api.payments.svc" },
    ]);
  });

  it("refuses a token for another namespace with 403", async () => {
    const before = certCount();
    const reply = await issueWithJwt(await k8sToken("billing", "api"));
    expect(reply.status).toBe(403);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("forbidden");
    expect(certCount()).toBe(before);
  });

  const now = () => Math.floor(clock.now().getTime() / 1000);
  const forged: Array<[string, () => Promise<string>]> = [
    ["rejects/wrong audience", () => k8sToken("payments", "api", { aud: "someone-else" })],
    ["rejects/expired", () => k8sToken("payments", "api", { exp: now() - 120 })],
    ["rejects/not yet valid", () => k8sToken("payments", "api", { nbf: now() + 600 })],
    ["rejects/unknown issuer", () => k8sToken("payments", "api", { iss: "https://evil.example" })],
    [
      "rejects/alg none",
      async () => {
        const [, payload] = (await k8sToken("payments", "api")).split(".");
        return `${Buffer.from(JSON.stringify({ alg: "none", kid: "k8s-1" })).toString("base64url")}.${payload}.`;
      },
    ],
    [
      "rejects/HS256 signed with the issuer's public key",
      async () => {
        const [, payload] = (await k8sToken("payments", "api")).split(".");
        const input = `${Buffer.from(JSON.stringify({ alg: "HS256", kid: "k8s-1" })).toString("base64url")}.${payload}`;
        const secret = JSON.stringify(k8sPublic);
        return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      },
    ],
    [
      "rejects/signed by a key not in the JWKS (same kid)",
      async () => k8sToken("payments", "api", { key: (await generateKeyPair("RS256")).privateKey }),
    ],
    [
      "rejects/signed by a key not in the JWKS (other kid)",
      async () => k8sToken("payments", "api", { key: (await generateKeyPair("RS256")).privateKey, kid: "k8s-2" }),
    ],
    [
      "rejects/tampered claims",
      async () => {
        const [h, , s] = (await k8sToken("billing", "api")).split(".");
        const claims = JSON.parse(
          Buffer.from((await k8sToken("payments", "api")).split(".")[1] as string, "base64url").toString(),
        );
        return `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
      },
    ],
    ["rejects/not a JWT", async () => "definitely-not-a-jwt"],
    ["rejects/a service-account-shaped sub from a non-k8s claim layout", () => k8sToken("payments", "api", { iss: CI_ISSUER })],
  ];

  it.each(forged)("%s → 401, nothing recorded", async (_name, make) => {
    const before = certCount();
    const reply = await issueWithJwt(await make());
    expect(reply.status, reply.text()).toBe(401);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("attestation_failed");
    expect(certCount()).toBe(before);
  });
});

describe("jwt attestation with a generic OIDC issuer (remote JWKS)", () => {
  it("maps iss, sub and configured claims to selectors", async () => {
    entry([
      "--spiffe-id",
      "spiffe://example.org/ci/deployer",
      "--selector",
      `jwt:iss:${CI_ISSUER}`,
      "--selector",
      "jwt:repo:acme/app",
    ]);
    const sign = (repository: string) =>
      new SignJWT({ repository })
        .setProtectedHeader({ alg: "ES256", kid: "ci-1" })
        .setIssuer(CI_ISSUER)
        .setSubject(`repo:${repository}:ref:refs/heads/main`)
        .setAudience("tessera")
        .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + 300)
        .sign(ciKey);
    const ok = await issueWithJwt(await sign("acme/app"));
    expect(ok.status, ok.text()).toBe(201);
    expect(ok.json<{ spiffe_id: string }>().spiffe_id).toBe("spiffe://example.org/ci/deployer");
    expect((await issueWithJwt(await sign("acme/other"))).status).toBe(403);
  });
});

describe("choosing among several matching entries", () => {
  it("takes the most specific entry, or the one the request names among those it qualifies for", async () => {
    entry(["--spiffe-id", "spiffe://example.org/payments/any", "--selector", "k8s:ns:payments"]);
    const token = () => k8sToken("payments", "api");
    expect((await issueWithJwt(await token())).json<{ spiffe_id: string }>().spiffe_id).toBe("spiffe://example.org/payments/api");
    const named = await issueWithJwt(await token(), { spiffe_id: "spiffe://example.org/payments/any" });
    expect(named.json<{ spiffe_id: string }>().spiffe_id).toBe("spiffe://example.org/payments/any");
    const notQualified = await issueWithJwt(await token(), { spiffe_id: "spiffe://example.org/ci/deployer" });
    expect(notQualified.status).toBe(403);
  });

  it("lets a join token that names selectors pick up its entry's DNS names", async () => {
    entry(["--spiffe-id", "spiffe://example.org/legacy", "--selector", "host:name:vm-1", "--dns", "vm-1.internal"]);
    const token = joinToken(server, "spiffe://example.org/legacy", ["--selector", "host:name:vm-1"]);
    const reply = await server.request("/v1/svid/x509", {
      body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } },
    });
    const san = parseCert(reply.json<{ certificate: string }>().certificate).getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toContainEqual({ type: "dns", value: "vm-1.internal" });
  });
});

describe("renewal over mutual TLS", () => {
  async function renew(svid: { chain: string; keyPem: string }, csr = opensslCsr(tmp.dir).csrPem) {
    return server.request("/v1/svid/x509", { body: { csr }, cert: svid.chain, key: svid.keyPem });
  }

  async function bootK8s() {
    const { csrPem, keyPem } = opensslCsr(tmp.dir);
    const reply = await server.request("/v1/svid/x509", {
      body: { csr: csrPem, attestation: { type: "jwt", token: await k8sToken("payments", "api") } },
    });
    return { ...reply.json<{ serial: string; chain: string; spiffe_id: string }>(), keyPem };
  }

  it("gives a fresh SVID for the same identity and the entry's current DNS names, for a new key", async () => {
    const first = await bootK8s();
    const reply = await renew(first);
    expect(reply.status, reply.text()).toBe(201);
    const renewed = reply.json<{ serial: string; spiffe_id: string; certificate: string }>();
    expect(renewed.spiffe_id).toBe(first.spiffe_id);
    expect(renewed.serial).not.toBe(first.serial);
    expect(parseCert(renewed.certificate).getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toContainEqual({
      type: "dns",
      value: "api.payments.svc",
    });
  });

  it("renews a join-token identity that has no entry", async () => {
    const svid = await bootWorkload(server, "spiffe://example.org/plain", tmp.dir);
    const reply = await renew(svid);
    expect(reply.status).toBe(201);
    expect(reply.json<{ spiffe_id: string }>().spiffe_id).toBe("spiffe://example.org/plain");
  });

  it("rejects/a revoked certificate", async () => {
    const svid = await bootK8s();
    runCli(["revoke", svid.serial, "--data-dir", server.dataDir]);
    expect((await renew(svid)).status).toBe(403);
  });

  it("rejects/an expired certificate", async () => {
    const svid = await bootK8s();
    clock.advance(2 * 3_600_000);
    try {
      expect((await renew(svid)).status).toBe(401);
    } finally {
      clock.advance(-2 * 3_600_000);
    }
  });

  it("rejects/a certificate whose entry was deleted", async () => {
    const id = entry(["--spiffe-id", "spiffe://example.org/doomed", "--selector", "k8s:ns:doomed"]);
    const { csrPem, keyPem } = opensslCsr(tmp.dir);
    const first = await server.request("/v1/svid/x509", {
      body: { csr: csrPem, attestation: { type: "jwt", token: await k8sToken("doomed", "x") } },
    });
    expect(first.status).toBe(201);
    const svid = { ...first.json<{ chain: string }>(), keyPem };
    expect((await renew(svid)).status).toBe(201);
    expect(runCli(["entry", "delete", id, "--data-dir", server.dataDir]).status).toBe(0);
    const after = await renew(svid);
    expect(after.status).toBe(403);
    expect(after.json<{ error: { message: string } }>().error.message).toContain("deleted");
  });

  it("rejects/a renewal CSR that is not signed by its key", async () => {
    const svid = await bootK8s();
    const der = Buffer.from(opensslCsr(tmp.dir).csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    der[der.length - 4] = (der[der.length - 4] as number) ^ 0xff;
    const reply = await renew(
      svid,
      `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`,
    );
    expect(reply.status).toBe(400);
  });
});

describe("entry management", () => {
  it.each([
    ["rejects/no selector", ["--spiffe-id", "spiffe://example.org/x"], "at least one selector"],
    ["rejects/bad selector", ["--spiffe-id", "spiffe://example.org/x", "--selector", "nocolon"], "invalid selector"],
    ["rejects/other trust domain", ["--spiffe-id", "spiffe://other.org/x", "--selector", "a:b"], "not in trust domain"],
    ["rejects/TTL too long", ["--spiffe-id", "spiffe://example.org/x", "--selector", "a:b", "--x509-ttl", "400d"], "between"],
    [
      "rejects/bad DNS name",
      ["--spiffe-id", "spiffe://example.org/x", "--selector", "a:b", "--dns", "bad name"],
      "invalid DNS name",
    ],
    [
      "rejects/duplicate",
      ["--spiffe-id", "spiffe://example.org/payments/api", "--selector", "k8s:sa:api", "--selector", "k8s:ns:payments"],
      "already exists",
    ],
  ])("%s", (_name, args, message) => {
    const r = runCli(["entry", "create", ...args, "--data-dir", server.dataDir]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it("lists, shows and deletes entries, with every change in the audit log", () => {
    const id = entry(["--spiffe-id", "spiffe://example.org/shown", "--selector", "x:y", "--x509-ttl", "2h"]);
    const shown = JSON.parse(runCli(["entry", "show", id, "--json", "--data-dir", server.dataDir]).stdout);
    expect(shown).toMatchObject({
      id,
      spiffe_id: "spiffe://example.org/shown",
      selectors: ["x:y"],
      x509_ttl: "2h",
      jwt_ttl: null,
    });
    const listed = JSON.parse(
      runCli(["entry", "list", "--spiffe-id", "spiffe://example.org/shown", "--json", "--data-dir", server.dataDir]).stdout,
    );
    expect(listed).toHaveLength(1);
    runCli(["entry", "delete", id, "--data-dir", server.dataDir]);
    expect(runCli(["entry", "show", id, "--data-dir", server.dataDir]).status).not.toBe(0);
    const audit = JSON.parse(runCli(["audit", "list", "--json", "--data-dir", server.dataDir]).stdout) as Array<{
      action: string;
      subject: string;
    }>;
    expect(audit.filter((a) => a.subject === "spiffe://example.org/shown").map((a) => a.action)).toEqual([
      "entry.create",
      "entry.delete",
    ]);
  });
});

describe("rate limits", () => {
  it("answers a burst past the limit with 429 and Retry-After, and stays healthy", async () => {
    const limited = await startTestServer({ config: { rateLimit: { perSecond: 1, burst: 3 } } });
    try {
      const replies = await Promise.all(
        Array.from({ length: 12 }, () =>
          limited.request("/v1/svid/x509", { body: { csr: "x", attestation: { type: "join_token", token: "A".repeat(43) } } }),
        ),
      );
      const limitedReplies = replies.filter((r) => r.status === 429);
      expect(limitedReplies.length).toBeGreaterThanOrEqual(8);
      expect(limitedReplies[0]?.headers["retry-after"]).toMatch(/^\d+$/);
      expect(limitedReplies[0]?.json<{ error: { code: string } }>().error.code).toBe("rate_limited");
      expect((await limited.request("/healthz")).status).toBe(200);
      expect((await limited.request("/v1/bundle")).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
