import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_INIT, initializeCa } from "../../src/ca/init-ca.js";
import { ManualClock, systemClock } from "../../src/clock.js";
import { dataFiles } from "../../src/data-dir.js";
import { call } from "../helpers/https-client.js";
import { openssl, opensslCsr, writeTemp } from "../helpers/openssl.js";
import { runCli, spawnServe, startTestServer, type TestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { x509 } from "../helpers/x509.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Issued {
  serial: string;
  certificate: string;
  chain: string;
  bundle: string;
}

async function issueVia(apiUrl: string, bundle: string, dataDir: string, spiffeId = "spiffe://example.org/svc"): Promise<Issued> {
  const token = runCli(["token", "create", "--spiffe-id", spiffeId, "--data-dir", dataDir]).stdout.trim();
  const reply = await call(`${apiUrl}/v1/svid/x509`, {
    ca: bundle,
    body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } },
  });
  expect(reply.status).toBe(201);
  return reply.json<Issued>();
}

/** The CRL named in a certificate's distribution point, as PEM (fetched the way a verifier would). */
async function crlFor(cert: string): Promise<{ pem: string; number: number; serials: string[] }> {
  const cdp = openssl(["x509", "-noout", "-ext", "crlDistributionPoints"], cert).stdout;
  return crlAt(/URI:(\S+)/.exec(cdp)?.[1] as string);
}

async function crlAt(url: string): Promise<{ pem: string; number: number; serials: string[] }> {
  const reply = await call(url);
  expect(reply.status).toBe(200);
  const crl = new x509.X509Crl(reply.body);
  const pem = openssl(["crl", "-inform", "DER"], reply.body).stdout;
  const number = Number.parseInt(
    /CRL Number:\s*\n\s*(\d+)/.exec(openssl(["crl", "-noout", "-text"], pem).stdout)?.[1] ?? "-1",
    10,
  );
  return { pem, number, serials: crl.entries.map((e) => e.serialNumber.toLowerCase()) };
}

function verifyWithCrl(issued: Issued, crlPem: string) {
  const dir = tempDir();
  try {
    return openssl([
      "verify",
      "-crl_check",
      "-CAfile",
      writeTemp(dir.dir, "b.pem", issued.bundle),
      "-untrusted",
      writeTemp(dir.dir, "c.pem", issued.chain),
      "-CRLfile",
      writeTemp(dir.dir, "crl.pem", crlPem),
      writeTemp(dir.dir, "l.pem", issued.certificate),
    ]);
  } finally {
    dir.cleanup();
  }
}

describe("revocation with the CLI while a server process runs", () => {
  it("shows in the served CRL within 2 s, openssl then says revoked, and CRL numbers never go back across restarts", async () => {
    const dataDir = `${tmp.dir}/proc-data`;
    let serve = await spawnServe(["--data-dir", dataDir, "--http-listen", "127.0.0.1:0"]);
    const bundle = runCli(["bundle", "--data-dir", dataDir]).stdout;
    const issued = await issueVia(serve.apiUrl, bundle, dataDir);

    const before = await crlFor(issued.certificate);
    expect(before.serials).not.toContain(issued.serial);
    const ok = verifyWithCrl(issued, before.pem);
    expect(ok.status, ok.stderr).toBe(0);

    const revoked = runCli(["revoke", issued.serial, "--reason", "keyCompromise", "--data-dir", dataDir]);
    expect(revoked.status, revoked.stderr).toBe(0);
    const seen = await waitFor(async () => {
      const crl = await crlFor(issued.certificate);
      return crl.serials.includes(issued.serial) ? crl : undefined;
    }, 2000);
    expect(seen, "revocation visible within 2 s").toBeDefined();
    expect(seen?.number).toBeGreaterThan(before.number);
    const bad = verifyWithCrl(issued, seen?.pem as string);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toContain("certificate revoked");
    expect(openssl(["crl", "-noout", "-text"], seen?.pem).stdout).toContain("Key Compromise");

    // kill -9 and restart: the number served never goes back, and the next revocation goes above it
    await serve.stop("SIGKILL");
    serve = await spawnServe(["--data-dir", dataDir, "--http-listen", "127.0.0.1:0"]);
    const second = await issueVia(serve.apiUrl, bundle, dataDir);
    const afterRestart = await crlFor(second.certificate);
    expect(afterRestart.number).toBeGreaterThanOrEqual(seen?.number as number);
    expect(afterRestart.serials).toContain(issued.serial);
    runCli(["revoke", second.serial, "--data-dir", dataDir]);
    const third = await waitFor(async () => {
      const crl = await crlFor(second.certificate);
      return crl.serials.includes(second.serial) ? crl : undefined;
    }, 2000);
    expect(third?.number).toBeGreaterThan(afterRestart.number);
    expect(await serve.stop()).toBe(0);
  });
});

describe("CRL endpoints", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it("serves DER with ETag and Cache-Control, and 304 for a matching If-None-Match", async () => {
    const reply = await call(`${server.publicUrl}/v1/crl`);
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/pkix-crl");
    expect(reply.headers["cache-control"]).toMatch(/max-age=\d+/);
    const etag = reply.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await call(`${server.publicUrl}/v1/crl`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const stale = await call(`${server.publicUrl}/v1/crl`, { headers: { "if-none-match": '"other"' } });
    expect(stale.status).toBe(200);
  });

  it("serves the same CRL as PEM that openssl verifies against the issuing CA", async () => {
    const der = (await call(`${server.publicUrl}/v1/crl`)).body;
    const pem = await call(`${server.publicUrl}/v1/crl.pem`);
    expect(pem.headers["content-type"]).toContain("application/x-pem-file");
    expect(pem.text()).toContain("-----BEGIN X509 CRL-----");
    expect(Buffer.from(pem.text().replace(/-----[^-]+-----|\s/g, ""), "base64").equals(der)).toBe(true);
    const issued = await issueVia(server.apiUrl, server.bundle, server.dataDir);
    const chain = writeTemp(
      tmp.dir,
      "crl-chain.pem",
      issued.chain.split("-----END CERTIFICATE-----\n")[1] + "-----END CERTIFICATE-----\n" + server.bundle,
    );
    const v = openssl(["crl", "-noout", "-CAfile", chain], pem.text());
    expect(v.stderr + v.stdout).toContain("verify OK");
  });

  it("is also on the TLS API, and a CRL for an unknown issuer is a 404", async () => {
    expect((await server.request("/v1/crl")).status).toBe(200);
    expect((await call(`${server.publicUrl}/v1/crl/ca-0000000000000000`)).status).toBe(404);
  });

  it("serves only public documents on the plain-HTTP listener", async () => {
    expect((await call(`${server.publicUrl}/v1/bundle`)).status).toBe(404);
    const post = await call(`${server.publicUrl}/v1/svid/x509`, { body: {} });
    expect(post.status).toBe(404);
  });

  it("revoking every certificate of an identity lists them all", async () => {
    const a = await issueVia(server.apiUrl, server.bundle, server.dataDir, "spiffe://example.org/many");
    const b = await issueVia(server.apiUrl, server.bundle, server.dataDir, "spiffe://example.org/many");
    const other = await issueVia(server.apiUrl, server.bundle, server.dataDir, "spiffe://example.org/other");
    const r = runCli([
      "revoke",
      "--spiffe-id",
      "spiffe://example.org/many",
      "--reason",
      "superseded",
      "--json",
      "--data-dir",
      server.dataDir,
    ]);
    expect(
      JSON.parse(r.stdout)
        .map((x: { serial: string }) => x.serial)
        .sort(),
    ).toEqual([a.serial, b.serial].sort());
    const crl = await waitFor(async () => {
      const c = await crlFor(a.certificate);
      return c.serials.includes(b.serial) ? c : undefined;
    }, 2000);
    expect(crl?.serials).toEqual(expect.arrayContaining([a.serial, b.serial]));
    expect(crl?.serials).not.toContain(other.serial);
  });

  it.each([
    ["rejects/unknown serial", ["revoke", "00ff"], "no certificate"],
    [
      "rejects/unknown reason",
      ["revoke", "--spiffe-id", "spiffe://example.org/x", "--reason", "becauseISaidSo"],
      "unknown revocation reason",
    ],
    ["rejects/both serial and identity", ["revoke", "00ff", "--spiffe-id", "spiffe://example.org/x"], "either"],
    ["rejects/malformed serial", ["revoke", "zz-top"], "not a serial"],
  ])("%s", (_name, args, message) => {
    const r = runCli([...args, "--data-dir", server.dataDir]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("expired certificates", () => {
  it("drop off the CRL once they expire", async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, config: { x509DefaultTtlMs: 600_000 } });
    try {
      const issued = await issueVia(server.apiUrl, server.bundle, server.dataDir);
      runCli(["revoke", issued.serial, "--data-dir", server.dataDir]);
      const listed = await waitFor(
        async () => ((await crlFor(issued.certificate)).serials.includes(issued.serial) ? true : undefined),
        2000,
      );
      expect(listed).toBe(true);
      clock.advance(11 * 60_000);
      const dropped = await waitFor(
        async () => ((await crlFor(issued.certificate)).serials.includes(issued.serial) ? undefined : true),
        2000,
      );
      expect(dropped).toBe(true);
    } finally {
      await server.stop();
    }
  });
});

/** A revoked row no Tessera writer makes (its serial has a leading zero octet: not DER), next to `serial` under the same issuer, making that issuer's CRL stale. */
function insertUnencodableRevocation(db: Database.Database, serial: string): void {
  const issuer = db.prepare("SELECT issuer_id FROM certificates WHERE serial = ?").pluck().get(serial);
  db.prepare(
    "INSERT INTO certificates (serial, spiffe_id, issuer_id, not_before, not_after, der, attestation, issued_at, revoked_at, revocation_reason) VALUES ('0001', 'spiffe://example.org/odd', ?, 0, ?, x'00', 'test', 0, ?, 1)",
  ).run(issuer, Date.now() + 3_600_000, Date.now());
  db.prepare("UPDATE crls SET revision = revision + 1 WHERE issuer_id = ?").run(issuer);
}

describe("a CRL that cannot be built", () => {
  it("is not published without the entry it cannot encode, is logged, and the server's other duties go on", async () => {
    const logLines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => logLines.push(line) });
    const server = await startTestServer({ logger });
    try {
      const issued = await issueVia(server.apiUrl, server.bundle, server.dataDir);
      const before = await crlFor(issued.certificate);

      const db = new Database(dataFiles(server.dataDir).database);
      const shippedAndLatest = () =>
        db
          .prepare(
            "SELECT (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'audit_shipped_seq') AS shipped, (SELECT max(seq) FROM audit_log) AS latest",
          )
          .get() as { shipped: number; latest: number };
      try {
        insertUnencodableRevocation(db, issued.serial);

        // audit shipping runs after the CRL in each round: it must still ship a new row
        expect(runCli(["token", "create", "--spiffe-id", "spiffe://example.org/next", "--data-dir", server.dataDir]).status).toBe(
          0,
        );
        const shipped = await waitFor(async () => {
          const s = shippedAndLatest();
          return s.shipped === s.latest ? s : undefined;
        }, 5_000);
        expect(shipped).toBeDefined();
        expect(logLines.some((l) => l.includes("background duty failed: CRL") && l.includes("cannot be listed in a CRL"))).toBe(
          true,
        );
        expect((await crlFor(issued.certificate)).number).toBe(before.number);
        // what an operator alerts on: failures counted, the served CRL's number and nextUpdate standing still
        const metrics = (await server.request("/metrics")).text();
        expect(Number(/^tessera_background_duty_failures_total\{duty="CRL"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
        expect(metrics).toMatch(new RegExp(`^tessera_crl_number\\{issuer="ca-[0-9a-f]+"\\} ${before.number}$`, "m"));
        expect(metrics).toMatch(/^tessera_crl_next_update_timestamp_seconds\{issuer="ca-[0-9a-f]+"\} \d+$/m);
        expect(metrics).toMatch(
          /^tessera_ca_key_not_after_timestamp_seconds\{id="ca-[0-9a-f]+",kind="x509_intermediate",state="active"\} \d+$/m,
        );

        // once the row is gone, a revocation is published at the next retry (failed builds back off, from 0.5 s)
        db.prepare("DELETE FROM certificates WHERE serial = '0001'").run();
        expect(runCli(["revoke", issued.serial, "--data-dir", server.dataDir]).status).toBe(0);
        const after = await waitFor(async () => {
          const crl = await crlFor(issued.certificate);
          return crl.serials.includes(issued.serial) ? crl : undefined;
        }, 15_000);
        expect(logLines.some((l) => l.includes("background duty recovered: CRL"))).toBe(true);
        expect(after?.number).toBeGreaterThan(before.number);
      } finally {
        db.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("does not keep the server from starting: the last CRL built is served", async () => {
    const dataDir = join(tmp.dir, "unbuildable-crl");
    await initializeCa(dataDir, { ...DEFAULT_INIT, trustDomain: "example.org" }, {}, systemClock);
    let server = await startTestServer({ dataDir });
    const issued = await issueVia(server.apiUrl, server.bundle, dataDir);
    const before = await crlFor(issued.certificate);
    await server.stop();

    const db = new Database(dataFiles(dataDir).database);
    try {
      insertUnencodableRevocation(db, issued.serial);
    } finally {
      db.close();
    }
    const logLines: string[] = [];
    server = await startTestServer({ dataDir, logger: pino({ level: "info" }, { write: (l: string) => logLines.push(l) }) });
    try {
      expect(logLines.some((l) => l.includes("CRL build failed at start") && l.includes("cannot be listed in a CRL"))).toBe(true);
      // the certificate's distribution point names the first run's port: ask this server
      const served = await crlAt(server.crlUrl);
      expect(served.pem).toBe(before.pem);
      expect(served.number).toBe(before.number);
      expect((await server.request("/readyz")).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
