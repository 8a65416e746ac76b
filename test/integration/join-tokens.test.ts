import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashJoinToken } from "../../src/attest/join-token.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { opensslCsr } from "../helpers/openssl.js";
import { runCli, startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
  tmp.cleanup();
});

const cli = (args: string[]) => runCli([...args, "--data-dir", server.dataDir]);
type Listed = { id: string; spiffe_id: string; status: string; revoked_at: string | null };
const list = (...args: string[]) => JSON.parse(cli(["token", "list", "--json", ...args]).stdout) as Listed[];
const create = (id: string) =>
  JSON.parse(cli(["token", "create", "--spiffe-id", id, "--json"]).stdout) as { token: string; id: string };
const use = (token: string) =>
  server.request("/v1/svid/x509", { body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } } });
const issuedCount = () => JSON.parse(cli(["cert", "list", "--json"]).stdout).length as number;

describe("tessera token list / revoke", () => {
  it("rejects/a revoked token: 401 saying so, nothing issued, and the revocation listed and audited", async () => {
    const leaked = create("spiffe://example.org/leaky");
    expect(leaked.id).toBe(hashJoinToken(leaked.token).slice(0, 12));
    expect(list("--spiffe-id", "spiffe://example.org/leaky")).toMatchObject([{ id: leaked.id, status: "unused" }]);
    // the list never shows a token itself
    expect(cli(["token", "list", "--json"]).stdout).not.toContain(leaked.token);

    const revoked = cli(["token", "revoke", leaked.id]);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked join token ${leaked.id}`);
    const before = issuedCount();
    const reply = await use(leaked.token);
    expect(reply.status).toBe(401);
    expect(reply.json<{ error: { code: string; message: string } }>().error).toEqual({
      code: "attestation_failed",
      message: "join token has been revoked",
    });
    expect(issuedCount()).toBe(before);
    expect(list("--status", "revoked").map((t) => t.id)).toContain(leaked.id);
    const again = cli(["token", "revoke", leaked.id]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("already revoked");
    const audit = JSON.parse(cli(["audit", "list", "--json"]).stdout) as Array<{
      action: string;
      details: Record<string, unknown>;
    }>;
    expect(audit.filter((a) => a.action === "token.revoke").map((a) => a.details.token_hash_prefix)).toContain(leaked.id);
  });

  it("revokes every unused token of an identity, leaving used ones as they were", async () => {
    const used = create("spiffe://example.org/fleet");
    expect((await use(used.token)).status).toBe(201);
    const a = create("spiffe://example.org/fleet");
    const b = create("spiffe://example.org/fleet");
    const other = create("spiffe://example.org/elsewhere");
    const r = JSON.parse(cli(["token", "revoke", "--spiffe-id", "spiffe://example.org/fleet", "--json"]).stdout) as Listed[];
    expect(r.map((t) => t.id).sort()).toEqual([a.id, b.id].sort());
    const status = Object.fromEntries(list().map((t) => [t.id, t.status]));
    expect(status).toMatchObject({ [used.id]: "used", [a.id]: "revoked", [b.id]: "revoked", [other.id]: "unused" });
    expect((await use(other.token)).status).toBe(201);
    // the status filter applies before the limit: the newest unused token, though newer ones are used
    const fresh = create("spiffe://example.org/filter");
    expect((await use(create("spiffe://example.org/filter").token)).status).toBe(201);
    expect(list("--spiffe-id", "spiffe://example.org/filter", "--status", "unused", "--limit", "1").map((t) => t.id)).toEqual([
      fresh.id,
    ]);
  });

  it.each([
    ["rejects/an id that is not hex", ["nothex!!"], "hex digits"],
    ["rejects/an unknown id", ["0123456789ab"], "no join token with id"],
    ["rejects/both an id and --spiffe-id", ["0123456789ab", "--spiffe-id", "spiffe://example.org/x"], "either"],
  ])("%s", (_name, args, message) => {
    const r = cli(["token", "revoke", ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it("rejects/an ambiguous id prefix, and a token revoked after the attestor looked at it is still not consumed", async () => {
    const store = new SqliteStore(`${tmp.dir}/tokens.db`, { now: () => Date.now() });
    try {
      const now = Date.now();
      const audit = { actor: "test", action: "token.create", subject: "spiffe://example.org/t", details: {} };
      const base = { spiffeId: "spiffe://example.org/t", selectors: [], createdAt: now, expiresAt: now + 60_000 };
      const token = { ...base, usedAt: null, usedBySerial: null, revokedAt: null };
      await store.insertJoinToken({ ...token, tokenHash: `abcdef01${"1".repeat(56)}` }, audit);
      await store.insertJoinToken({ ...token, tokenHash: `abcdef01${"2".repeat(56)}` }, audit);
      const revokeAudit = () => ({ actor: "test", action: "token.revoke", subject: "x", details: {} });
      await expect(store.revokeJoinTokens({ hashPrefix: "abcdef01" }, now, revokeAudit)).rejects.toMatchObject({
        code: "conflict",
      });
      const [one] = await store.revokeJoinTokens({ hashPrefix: `abcdef01${"1".repeat(8)}` }, now, revokeAudit);
      expect(one?.revokedAt).toBe(now);
      // the issuance that checked the token before the revocation cannot consume it after
      const outcome = await store.recordJwtSvid(
        { jti: "j1", spiffeId: base.spiffeId, audience: ["a"], keyId: "k", issuedAt: now, expiresAt: now + 60_000 },
        { actor: "w", action: "svid.jwt.issue", subject: base.spiffeId, details: {} },
        { hash: `abcdef01${"1".repeat(56)}`, now: now + 1 },
      );
      expect(outcome).toMatchObject({ ok: false });
    } finally {
      store.close();
    }
  });
});
