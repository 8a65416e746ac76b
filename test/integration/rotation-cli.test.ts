import { existsSync, readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinnedFetch } from "../../src/sdk/pinned-fetch.js";
import { spawnTracked } from "../helpers/children.js";
import { call } from "../helpers/https-client.js";
import { openssl, opensslCsr, writeTemp } from "../helpers/openssl.js";
import { CLI, runCli, spawnServe, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { splitPem } from "../helpers/x509.js";

const tmp = tempDir();
const dataDir = `${tmp.dir}/data`;
let serve: Awaited<ReturnType<typeof spawnServe>>;
let bundle: string;

interface Svid {
  serial: string;
  certificate: string;
  chain: string;
  bundle: string;
  keyPem: string;
}

async function boot(spiffeId: string): Promise<Svid> {
  const token = runCli(["token", "create", "--spiffe-id", spiffeId, "--data-dir", dataDir]).stdout.trim();
  const { csrPem, keyPem } = opensslCsr(tmp.dir);
  const reply = await call(`${serve.apiUrl}/v1/svid/x509`, {
    ca: bundle,
    body: { csr: csrPem, attestation: { type: "join_token", token } },
  });
  expect(reply.status).toBe(201);
  return { ...reply.json<Omit<Svid, "keyPem">>(), keyPem };
}

async function jwtFor(svid: Svid): Promise<string> {
  const reply = await call(`${serve.apiUrl}/v1/svid/jwt`, {
    ca: bundle,
    cert: svid.chain,
    key: svid.keyPem,
    body: { audience: ["api"] },
  });
  expect(reply.status).toBe(201);
  return reply.json<{ token: string }>().token;
}

function status(): Array<{ id: string; kind: string; state: string; parent: string | null }> {
  return JSON.parse(runCli(["ca", "status", "--json", "--data-dir", dataDir]).stdout).keys;
}

beforeAll(async () => {
  serve = await spawnServe(["--data-dir", dataDir, "--http-listen", "127.0.0.1:0"], { TESSERA_LOG_LEVEL: "info" });
  bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
});
afterAll(async () => {
  await serve.stop();
  tmp.cleanup();
});

describe("rotate jwt --now", () => {
  it("makes new tokens carry the new kid while a token minted just before still verifies", async () => {
    const svid = await boot("spiffe://example.org/caller");
    const before = await jwtFor(svid);
    const oldKid = decodeProtectedHeader(before).kid;
    const r = runCli(["rotate", "jwt", "--now", "--json", "--data-dir", dataDir]);
    expect(r.status, r.stderr).toBe(0);
    const newKid = JSON.parse(r.stdout).id;
    expect(newKid).not.toBe(oldKid);
    const after = await waitFor(async () => {
      const t = await jwtFor(svid);
      return decodeProtectedHeader(t).kid === newKid ? t : undefined;
    }, 2000);
    expect(after, "new kid in use within 2 s").toBeDefined();
    const jwks = createRemoteJWKSet(new URL(`${serve.apiUrl}/.well-known/jwks.json`), { [customFetch]: pinnedFetch(bundle) });
    await expect(jwtVerify(before, jwks, { audience: "api" })).resolves.toBeDefined();
    await expect(jwtVerify(after as string, jwks, { audience: "api" })).resolves.toBeDefined();
    const states = status().filter((k) => k.kind === "jwt");
    expect(states.find((k) => k.id === oldKid)?.state).toBe("retired");
    expect(states.find((k) => k.id === newKid)?.state).toBe("active");
  });
});

describe("several processes rotating at once", () => {
  it("creates exactly one prepared successor", async () => {
    const runs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<number | null>((resolve) => {
            const child = spawnTracked(process.execPath, [CLI, "rotate", "jwt", "--data-dir", dataDir], { stdio: "ignore" });
            child.on("exit", resolve);
          }),
      ),
    );
    expect(runs).toEqual([0, 0, 0, 0]);
    expect(status().filter((k) => k.kind === "jwt" && k.state === "prepared")).toHaveLength(1);
  });
});

describe("rotate x509 --now", () => {
  it("issues from the new intermediate while revocations of the retired one stay checkable", async () => {
    const old = await boot("spiffe://example.org/old");
    const oldIssuer = splitPem(old.chain)[1];
    expect(runCli(["rotate", "x509", "--now", "--data-dir", dataDir]).status).toBe(0);
    const fresh = await waitFor(async () => {
      const s = await boot("spiffe://example.org/new");
      return splitPem(s.chain)[1] !== oldIssuer ? s : undefined;
    }, 2000);
    expect(fresh, "new intermediate in use within 2 s").toBeDefined();
    // the bundle as served now: a root rotated by an earlier test is in it
    const trust = (await call(`${serve.apiUrl}/v1/bundle`, { ca: bundle })).text();
    const verify = (s: Svid, crl?: string) =>
      openssl([
        "verify",
        ...(crl ? ["-crl_check", "-CRLfile", writeTemp(tmp.dir, "crl.pem", crl)] : []),
        "-CAfile",
        writeTemp(tmp.dir, "b.pem", trust),
        "-untrusted",
        writeTemp(tmp.dir, "c.pem", s.chain),
        writeTemp(tmp.dir, "l.pem", s.certificate),
      ]);
    expect(verify(old).status).toBe(0);
    expect(verify(fresh as Svid).status).toBe(0);

    expect(runCli(["revoke", old.serial, "--data-dir", dataDir]).status).toBe(0);
    const cdp = /URI:(\S+)/.exec(
      openssl(["x509", "-noout", "-ext", "crlDistributionPoints"], old.certificate).stdout,
    )?.[1] as string;
    const revokedCrl = await waitFor(async () => {
      const pem = openssl(["crl", "-inform", "DER"], (await call(cdp)).body).stdout;
      return openssl(["crl", "-noout", "-text"], pem).stdout.includes(old.serial.toUpperCase()) ? pem : undefined;
    }, 2000);
    expect(revokedCrl).toBeDefined();
    expect(verify(old, revokedCrl).stdout + verify(old, revokedCrl).stderr).toContain("certificate revoked");
    // the combined file holds a CRL for each issuing CA, so openssl can check either certificate
    const all = (await call(`${new URL(cdp).origin}/v1/crls.pem`)).text();
    expect(all.match(/BEGIN X509 CRL/g)?.length).toBeGreaterThanOrEqual(2);
    expect(verify(fresh as Svid, all).status).toBe(0);
  });
});

describe("root rotation", () => {
  it("publishes a prepared root in the bundle before anything chains to it, then switches issuance with --now", async () => {
    const prepared = JSON.parse(runCli(["rotate", "x509", "--root", "--json", "--data-dir", dataDir]).stdout);
    const twoRoots = await waitFor(async () => {
      const b = (await call(`${serve.apiUrl}/v1/bundle`, { ca: bundle })).text();
      return splitPem(b).length === 2 ? b : undefined;
    }, 2000);
    expect(twoRoots).toBeDefined();
    const stillOld = await boot("spiffe://example.org/before-root");
    expect(runCli(["rotate", "x509", "--root", "--now", "--data-dir", dataDir]).status).toBe(0);
    const underNew = await waitFor(async () => {
      const s = await boot("spiffe://example.org/after-root");
      const issuer = splitPem(s.chain)[1] as string;
      return status().find((k) => k.parent === prepared.id && k.state === "active") &&
        openssl([
          "verify",
          "-CAfile",
          writeTemp(tmp.dir, "nr.pem", splitPem(twoRoots as string)[1] as string),
          writeTemp(tmp.dir, "ni.pem", issuer),
        ]).status === 0
        ? s
        : undefined;
    }, 3000);
    expect(underNew, "issuance chains to the new root").toBeDefined();
    for (const s of [stillOld, underNew as Svid]) {
      const v = openssl([
        "verify",
        "-CAfile",
        writeTemp(tmp.dir, "both.pem", twoRoots as string),
        "-untrusted",
        writeTemp(tmp.dir, "c2.pem", s.chain),
        writeTemp(tmp.dir, "l2.pem", s.certificate),
      ]);
      expect(v.status, v.stderr).toBe(0);
    }
  });
});

describe("operator trail", () => {
  it("puts every rotation and revocation in the audit log and the structured log, and the chain verifies", async () => {
    // a trail of its own, whatever ran before
    const svid = await boot("spiffe://example.org/trail");
    await jwtFor(svid);
    expect(runCli(["rotate", "jwt", "--now", "--data-dir", dataDir]).status).toBe(0);
    expect(runCli(["revoke", svid.serial, "--data-dir", dataDir]).status).toBe(0);
    const audit = JSON.parse(runCli(["audit", "list", "--json", "--data-dir", dataDir]).stdout) as Array<{
      action: string;
      actor: string;
      subject: string;
    }>;
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "ca.key.prepare",
        "ca.key.activate",
        "cert.revoke",
        "token.create",
        "svid.x509.issue",
        "svid.jwt.issue",
      ]),
    );
    expect(audit.find((a) => a.action === "cert.revoke" && a.subject === "spiffe://example.org/trail")?.actor).toMatch(
      /^operator:/,
    );
    expect(runCli(["audit", "verify", "--data-dir", dataDir]).status).toBe(0);
    const shipped = await waitFor(async () => {
      const lines = serve.logs().filter((l) => {
        const a = l.audit as { action?: string; subject?: string } | undefined;
        return a?.action === "cert.revoke" && a.subject === "spiffe://example.org/trail";
      });
      return lines.length > 0 ? lines : undefined;
    }, 2000);
    expect(shipped?.[0]).toMatchObject({
      level: 30,
      service: "tessera",
      audit: { action: "cert.revoke", hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });
});

describe("expired keys", () => {
  it("erases a retired intermediate's private key once it has expired: in the database, in ca status and the audit log, and the server issues on", async () => {
    const shortDir = `${tmp.dir}/short-ca`;
    expect(runCli(["init", "--trust-domain", "example.org", "--ca-ttl", "4s", "--data-dir", shortDir]).status).toBe(0);
    const first = JSON.parse(runCli(["ca", "status", "--json", "--data-dir", shortDir]).stdout).keys.find(
      (k: { kind: string }) => k.kind === "x509_intermediate",
    ).id as string;
    const ciphertext = (() => {
      const db = new Database(`${shortDir}/tessera.db`, { readonly: true });
      try {
        return db.prepare("SELECT encrypted_private_key FROM ca_keys WHERE id = ?").pluck().get(first) as Buffer;
      } finally {
        db.close();
      }
    })();
    expect(ciphertext.length).toBeGreaterThan(32);
    const short = await spawnServe(["--data-dir", shortDir, "--workers", "1"]);
    try {
      type Key = { id: string; state: string; destroyed_at: string | null; not_after: string };
      const erased = await waitFor(
        async () => {
          const keys: Key[] = JSON.parse(runCli(["ca", "status", "--json", "--data-dir", shortDir]).stdout).keys;
          const key = keys.find((k) => k.id === first);
          return key?.destroyed_at ? key : undefined;
        },
        15_000,
        250,
      );
      expect(erased).toMatchObject({ state: "retired" });
      expect(Date.parse(erased?.destroyed_at ?? "")).toBeGreaterThanOrEqual(Date.parse(erased?.not_after ?? ""));
      expect(runCli(["ca", "status", "--data-dir", shortDir]).stdout).toMatch(new RegExp(`${first}.*retired \\(erased\\)`));

      const audit = JSON.parse(runCli(["audit", "list", "--json", "--data-dir", shortDir]).stdout) as Array<{
        action: string;
        subject: string;
      }>;
      expect(audit.filter((a) => a.action === "ca.key.destroy").map((a) => a.subject)).toContain(first);
      expect(runCli(["audit", "verify", "--data-dir", shortDir]).status).toBe(0);

      const db = new Database(`${shortDir}/tessera.db`, { readonly: true });
      try {
        const erasedBytes = db.prepare("SELECT length(encrypted_private_key) FROM ca_keys WHERE id = ?").pluck().get(first);
        expect(erasedBytes).toBe(0);
      } finally {
        db.close();
      }
      // nor is any copy of the ciphertext left in the database file or its WAL
      const leftIn = (file: string) => existsSync(file) && readFileSync(file).includes(ciphertext);
      const scrubbed = await waitFor(
        async () => (leftIn(`${shortDir}/tessera.db`) || leftIn(`${shortDir}/tessera.db-wal`) ? undefined : true),
        10_000,
        100,
      );
      expect(scrubbed).toBe(true);

      const token = runCli([
        "token",
        "create",
        "--spiffe-id",
        "spiffe://example.org/after",
        "--data-dir",
        shortDir,
      ]).stdout.trim();
      const reply = await call(`${short.apiUrl}/v1/svid/x509`, {
        ca: readFileSync(`${shortDir}/bundle.pem`, "utf8"),
        body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } },
      });
      expect(reply.status).toBe(201);
    } finally {
      await short.stop();
    }
  }, 30_000);
});
