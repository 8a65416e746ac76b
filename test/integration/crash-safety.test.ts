import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { processTree } from "../../bench/proc-stats.js";
import { call } from "../helpers/https-client.js";
import { openssl, opensslCsr } from "../helpers/openssl.js";
import { runCli, spawnServe } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { makeTokens } from "../helpers/workload.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const ROUNDS = 5;

const crlNumber = (pem: string) =>
  Number(/CRL Number:\s*\n\s*(\d+)/.exec(openssl(["crl", "-noout", "-text"], pem).stdout)?.[1] ?? Number.NaN);

describe("crash safety", () => {
  it("loses nothing a client received, reuses no serial or jti, and never moves the CRL number back, over repeated kill -9", async () => {
    const dataDir = `${tmp.dir}/data`;
    const received = { serials: [] as string[], jtis: [] as string[] };
    const crlNumbers: number[] = [];
    const csr = opensslCsr(tmp.dir).csrPem;
    let kills = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const workers = round % 2 === 0 ? "1" : "2";
      const serve = await spawnServe([
        "--data-dir",
        dataDir,
        "--workers",
        workers,
        "--rate-limit",
        "off",
        "--http-listen",
        "127.0.0.1:0",
      ]);
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      const tokens = await makeTokens(dataDir, `spiffe://example.org/crash/${round}`, 400);
      // revoke something each round so the CRL number moves
      const [revokeMe] = await makeTokens(dataDir, `spiffe://example.org/revoked/${round}`, 1);
      const doomed = await call(`${serve.apiUrl}/v1/svid/x509`, {
        ca: bundle,
        body: { csr, attestation: { type: "join_token", token: revokeMe } },
      });
      received.serials.push(doomed.json<{ serial: string }>().serial);
      runCli(["revoke", doomed.json<{ serial: string }>().serial, "--data-dir", dataDir]);

      let stop = false;
      // 8 clients, each with its own tokens: an X.509-SVID and a JWT-SVID per step
      const worker = async (k: number) => {
        for (let i = 2 * k; !stop && i + 1 < tokens.length; i += 16) {
          try {
            const x = await call(`${serve.apiUrl}/v1/svid/x509`, {
              ca: bundle,
              body: { csr, attestation: { type: "join_token", token: tokens[i] } },
            });
            if (x.status === 201) received.serials.push(x.json<{ serial: string }>().serial);
            const j = await call(`${serve.apiUrl}/v1/svid/jwt`, {
              ca: bundle,
              body: { audience: ["crash"], attestation: { type: "join_token", token: tokens[i + 1] } },
            });
            if (j.status === 201)
              received.jtis.push(
                JSON.parse(Buffer.from(j.json<{ token: string }>().token.split(".")[1] as string, "base64url").toString()).jti,
              );
          } catch {
            return; // the server is gone
          }
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, (_, k) => worker(k)));
      // a CRL number seen by a client during this round
      const crl = await call(`${new URL(serve.crlUrl).origin}/v1/crl.pem`);
      crlNumbers.push(crlNumber(crl.text()));

      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      for (const pid of processTree(serve.child.pid as number).reverse()) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      kills++;
      stop = true;
      await load;
      await new Promise<void>((r) =>
        serve.child.exitCode !== null || serve.child.signalCode !== null ? r() : serve.child.once("exit", () => r()),
      );
    }

    // one last clean start: the database opens, the CRL number has not gone back
    const final = await spawnServe(["--data-dir", dataDir, "--workers", "1", "--http-listen", "127.0.0.1:0"]);
    crlNumbers.push(crlNumber((await call(`${new URL(final.crlUrl).origin}/v1/crl.pem`)).text()));
    await final.stop();

    const db = new Database(`${dataDir}/tessera.db`, { readonly: true });
    const haveSerial = db.prepare("SELECT 1 FROM certificates WHERE serial = ?");
    const haveJti = db.prepare("SELECT 1 FROM jwt_svids WHERE jti = ?");
    const lostSerials = received.serials.filter((s) => !haveSerial.get(s));
    const lostJtis = received.jtis.filter((j) => !haveJti.get(j));
    db.close();

    process.stdout.write(
      `crash test summary: ${kills} kills, ${received.serials.length} certificates and ${received.jtis.length} JWT-SVIDs checked, ${lostSerials.length + lostJtis.length} lost\n`,
    );
    expect(received.serials.length).toBeGreaterThan(ROUNDS * 5);
    expect(lostSerials).toEqual([]);
    expect(lostJtis).toEqual([]);
    expect(new Set(received.serials).size).toBe(received.serials.length);
    expect(new Set(received.jtis).size).toBe(received.jtis.length);
    for (let i = 1; i < crlNumbers.length; i++) expect(crlNumbers[i]).toBeGreaterThanOrEqual(crlNumbers[i - 1] as number);
    expect(runCli(["audit", "verify", "--data-dir", dataDir]).status).toBe(0);
  }, 120_000);
});
