import { execFile } from "node:child_process";
import { Agent } from "node:https";
import { promisify } from "node:util";
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { pinnedFetch } from "../../src/sdk/pinned-fetch.js";
import { writeTemp } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload, joinToken, type WorkloadSvid } from "../helpers/workload.js";

const tmp = tempDir();
const clock = new ManualClock();
let server: TestServer;
let web: WorkloadSvid;

beforeAll(async () => {
  server = await startTestServer({ clock });
  web = await bootWorkload(server, "spiffe://example.org/web", tmp.dir);
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

function jwtRequest(svid: Pick<WorkloadSvid, "chain" | "keyPem"> | undefined, body: unknown) {
  return server.request("/v1/svid/jwt", { body, ...(svid ? { cert: svid.chain, key: svid.keyPem } : {}) });
}

describe("POST /v1/svid/jwt over mutual TLS", () => {
  it("mints a token that jose verifies with nothing but the discovered jwks_uri", async () => {
    const reply = await jwtRequest(web, { audience: ["spiffe://example.org/api", "billing"] });
    expect(reply.status).toBe(201);
    const { token, spiffe_id, expires_at } = reply.json<{ token: string; spiffe_id: string; expires_at: string }>();
    expect(spiffe_id).toBe("spiffe://example.org/web");

    const discovery = (await server.request("/.well-known/openid-configuration")).json<{ issuer: string; jwks_uri: string }>();
    expect(discovery.issuer).toBe(server.apiUrl);
    const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { [customFetch]: pinnedFetch(server.bundle) });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: discovery.issuer,
      audience: "billing",
      currentDate: clock.now(),
    });
    expect(payload.sub).toBe("spiffe://example.org/web");
    expect(payload.aud).toEqual(["spiffe://example.org/api", "billing"]);
    expect(payload.exp).toBe((payload.iat as number) + 300);
    expect(new Date((payload.exp as number) * 1000).toISOString()).toBe(expires_at);
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(protectedHeader).toEqual({ alg: "ES256", kid: expect.stringMatching(/^jwt-[0-9a-f]{16}$/), typ: "JWT" });
  });

  it("is verified by PyJWT's JWK client from the JWKS URL alone", async () => {
    const reply = await jwtRequest(web, { audience: ["pyjwt"] });
    const { token } = reply.json<{ token: string }>();
    const script = `
import sys, jwt
client = jwt.PyJWKClient(sys.argv[1])
key = client.get_signing_key_from_jwt(sys.argv[2])
claims = jwt.decode(sys.argv[2], key.key, algorithms=["ES256"], audience="pyjwt", issuer=sys.argv[3])
print(claims["sub"])
`;
    // async: the server runs in this process, so a blocking spawn would deadlock
    const { stdout } = await promisify(execFile)(
      "/usr/bin/python3",
      ["-c", script, `${server.apiUrl}/.well-known/jwks.json`, token, server.apiUrl],
      {
        env: { ...process.env, SSL_CERT_FILE: writeTemp(tmp.dir, "py-bundle.pem", server.bundle) },
      },
    );
    expect(stdout.trim()).toBe("spiffe://example.org/web");
  });

  it("gives every token a fresh jti and records it with its audience", async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => jwtRequest(web, { audience: ["a"] })));
    const jtis = tokens.map(
      (r) => JSON.parse(Buffer.from(r.json<{ token: string }>().token.split(".")[1] as string, "base64url").toString()).jti,
    );
    expect(new Set(jtis).size).toBe(20);
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(`${server.dataDir}/tessera.db`, { readonly: true });
    const rows = db
      .prepare(`SELECT jti, audience, spiffe_id FROM jwt_svids WHERE jti IN (${jtis.map(() => "?").join(",")})`)
      .all(...jtis);
    db.close();
    expect(rows).toHaveLength(20);
    expect(rows[0]).toMatchObject({ audience: '["a"]', spiffe_id: "spiffe://example.org/web" });
  });

  it("accepts a join-token attestation instead of a client certificate, once", async () => {
    const token = joinToken(server, "spiffe://example.org/batch");
    const body = { audience: ["x"], attestation: { type: "join_token", token } };
    const first = await jwtRequest(undefined, body);
    expect(first.status).toBe(201);
    expect(first.json<{ spiffe_id: string }>().spiffe_id).toBe("spiffe://example.org/batch");
    expect((await jwtRequest(undefined, body)).status).toBe(409);
  });
});

describe("who may not get a JWT-SVID", () => {
  it("rejects/no client certificate and no attestation with 401", async () => {
    const reply = await jwtRequest(undefined, { audience: ["x"] });
    expect(reply.status).toBe(401);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("unauthenticated");
  });

  it("rejects/a certificate from another CA with 401, even for a SPIFFE ID of this trust domain", async () => {
    const other = await startTestServer();
    try {
      const foreign = await bootWorkload(other, "spiffe://example.org/web", tmp.dir);
      const reply = await jwtRequest(foreign, { audience: ["x"] });
      expect(reply.status).toBe(401);
      expect(reply.json<{ error: { message: string } }>().error.message).toContain("not issued by this CA");
    } finally {
      await other.stop();
    }
  });

  it("rejects/a revoked client certificate with 403", async () => {
    const victim = await bootWorkload(server, "spiffe://example.org/victim", tmp.dir);
    expect((await jwtRequest(victim, { audience: ["x"] })).status).toBe(201);
    expect(runCli(["revoke", victim.serial, "--data-dir", server.dataDir]).status).toBe(0);
    const reply = await jwtRequest(victim, { audience: ["x"] });
    expect(reply.status).toBe(403);
  });

  /** Sends JWT-SVID requests with `svid` over one kept-alive connection: `change` happens between the first and second. */
  async function onOneConnection(svid: WorkloadSvid, change: () => void | Promise<void>): Promise<[number, number]> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: server.bundle, cert: svid.chain, key: svid.keyPem });
    let connections = 0;
    const create = agent.createConnection.bind(agent);
    agent.createConnection = (...args: Parameters<typeof create>) => {
      connections++;
      return create(...args);
    };
    try {
      const send = () => server.request("/v1/svid/jwt", { body: { audience: ["x"] }, agent });
      const first = (await send()).status;
      await change();
      const second = (await send()).status;
      expect(connections).toBe(1);
      return [first, second];
    } finally {
      agent.destroy();
    }
  }

  it("rejects/a certificate revoked while its keep-alive connection stays open", async () => {
    const victim = await bootWorkload(server, "spiffe://example.org/victim-kept", tmp.dir);
    const statuses = await onOneConnection(victim, () => {
      expect(runCli(["revoke", victim.serial, "--data-dir", server.dataDir]).status).toBe(0);
    });
    expect(statuses).toEqual([201, 403]);
  });

  it("rejects/a certificate whose record is deleted while its keep-alive connection stays open", async () => {
    const victim = await bootWorkload(server, "spiffe://example.org/victim-pruned", tmp.dir);
    const statuses = await onOneConnection(victim, async () => {
      const { default: Database } = await import("better-sqlite3");
      const db = new Database(`${server.dataDir}/tessera.db`);
      db.pragma("foreign_keys = OFF");
      expect(db.prepare("DELETE FROM certificates WHERE serial = ?").run(victim.serial).changes).toBe(1);
      db.close();
    });
    expect(statuses).toEqual([201, 401]);
  });

  it("rejects/a certificate that expires while its keep-alive connection stays open", async () => {
    const victim = await bootWorkload(server, "spiffe://example.org/victim-expiring", tmp.dir);
    try {
      const statuses = await onOneConnection(victim, () => clock.advance(2 * 3_600_000));
      expect(statuses).toEqual([201, 401]);
    } finally {
      clock.advance(-2 * 3_600_000);
    }
  });

  it("rejects/an expired client certificate with 401", async () => {
    const shortLived = await bootWorkload(server, "spiffe://example.org/short", tmp.dir);
    clock.advance(2 * 3_600_000);
    try {
      const reply = await jwtRequest(shortLived, { audience: ["x"] });
      expect(reply.status).toBe(401);
      expect(reply.json<{ error: { message: string } }>().error.message).toContain("expired");
    } finally {
      clock.advance(-2 * 3_600_000);
    }
  });

  it.each([
    ["rejects/missing audience", {}],
    ["rejects/empty audience", { audience: [] }],
    ["rejects/audience as a string", { audience: "x" }],
    ["rejects/non-string audience", { audience: [1] }],
    ["rejects/audience with spaces", { audience: ["a b"] }],
    ["rejects/too many audiences", { audience: Array.from({ length: 17 }, (_, i) => `a${i}`) }],
  ])("%s with 400", async (_name, body) => {
    const reply = await jwtRequest(web, body);
    expect(reply.status).toBe(400);
    expect(reply.json<{ error: { code: string } }>().error.code).toBe("bad_request");
  });
});

describe("published keys", () => {
  it("serves a JWKS of every published key with kid, alg and use", async () => {
    const reply = await server.request("/.well-known/jwks.json");
    expect(reply.headers["content-type"]).toContain("application/jwk-set+json");
    expect(reply.headers["cache-control"]).toMatch(/max-age=\d+/);
    const { keys } = reply.json<{ keys: Array<Record<string, string>> }>();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: expect.stringMatching(/^jwt-/) });
    expect(keys[0]).not.toHaveProperty("d");
    const token = (await jwtRequest(web, { audience: ["x"] })).json<{ token: string }>().token;
    expect(decodeProtectedHeader(token).kid).toBe(keys[0]?.kid);
    const again = await server.request("/.well-known/jwks.json", { headers: { "if-none-match": reply.headers.etag as string } });
    expect(again.status).toBe(304);
  });

  it("serves OIDC discovery a relying party can use", async () => {
    const d = (await server.request("/.well-known/openid-configuration")).json<Record<string, unknown>>();
    expect(d).toMatchObject({
      issuer: server.apiUrl,
      jwks_uri: `${server.apiUrl}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ["ES256"],
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
    });
  });

  it("serves the SPIFFE bundle: roots as x509-svid with x5c, JWT keys as jwt-svid, a sequence and a refresh hint", async () => {
    const reply = await server.request("/v1/bundle/spiffe");
    const bundle = reply.json<{ keys: Array<Record<string, unknown>>; spiffe_sequence: number; spiffe_refresh_hint: number }>();
    const x509 = bundle.keys.filter((k) => k.use === "x509-svid");
    const jwt = bundle.keys.filter((k) => k.use === "jwt-svid");
    expect(x509).toHaveLength(1);
    const rootDer = Buffer.from(server.bundle.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
    expect(x509[0]?.x5c).toEqual([rootDer]);
    expect(jwt).toHaveLength(1);
    expect(jwt[0]?.kid).toMatch(/^jwt-/);
    expect(Number.isInteger(bundle.spiffe_sequence) && bundle.spiffe_sequence > 0).toBe(true);
    expect(bundle.spiffe_refresh_hint).toBeGreaterThan(0);
    const cli = JSON.parse(runCli(["bundle", "--format", "spiffe", "--data-dir", server.dataDir]).stdout);
    expect(cli.keys).toEqual(bundle.keys);
  });
});
