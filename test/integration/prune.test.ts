import { afterAll, describe, expect, it } from "vitest";
import { opensslCsr } from "../helpers/openssl.js";
import { runCli, startTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { bootWorkload, joinToken } from "../helpers/workload.js";

const tmp = tempDir();
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
afterAll(() => tmp.cleanup());

describe("tessera prune", () => {
  it("deletes what expired before the retention period and keeps the rest, in the audit log", async () => {
    // The server's clock runs an hour behind while the old identity is issued and used, then
    // catches up: what is old is then long expired by the CLI's clock, and what is fresh is
    // seconds old, however slow the machine (waiting for 1 s and 2 s lifetimes flaked).
    let offsetMs = -HOUR;
    const clock = { now: () => new Date(Date.now() + offsetMs) };
    const server = await startTestServer({ clock, config: { x509DefaultTtlMs: 5 * MINUTE, jwtDefaultTtlMs: MINUTE } });
    try {
      const old = await bootWorkload(server, "spiffe://example.org/old", tmp.dir);
      expect((await server.request("/v1/svid/jwt", { body: { audience: ["x"] }, cert: old.chain, key: old.keyPem })).status).toBe(
        201,
      );
      offsetMs = 0;
      runCli([
        "entry",
        "create",
        "--spiffe-id",
        "spiffe://example.org/fresh",
        "--selector",
        "t:fresh",
        "--x509-ttl",
        "1h",
        "--data-dir",
        server.dataDir,
      ]);
      const token = joinToken(server, "spiffe://example.org/fresh", ["--selector", "t:fresh"]);
      const fresh = await server.request("/v1/svid/x509", {
        body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } },
      });
      const freshSerial = fresh.json<{ serial: string }>().serial;
      const before = JSON.parse(runCli(["cert", "list", "--json", "--data-dir", server.dataDir]).stdout) as Array<{
        serial: string;
      }>;
      expect(before.map((c) => c.serial)).toEqual(expect.arrayContaining([old.serial, freshSerial]));

      const r = runCli(["prune", "--retention", "10m", "--json", "--data-dir", server.dataDir]);
      expect(r.status, r.stderr).toBe(0);
      const counts = JSON.parse(r.stdout);
      expect(counts).toEqual({ certificates: 1, jwtSvids: 1, joinTokens: 1 });
      const after = (
        JSON.parse(runCli(["cert", "list", "--json", "--data-dir", server.dataDir]).stdout) as Array<{ serial: string }>
      ).map((c) => c.serial);
      expect(after).toContain(freshSerial);
      expect(after).not.toContain(old.serial);
      const audit = JSON.parse(runCli(["audit", "list", "--json", "--data-dir", server.dataDir]).stdout) as Array<{
        action: string;
      }>;
      expect(audit.at(-1)?.action).toBe("data.prune");
      expect(runCli(["audit", "verify", "--data-dir", server.dataDir]).status).toBe(0);
      expect(JSON.parse(runCli(["prune", "--retention", "1h", "--json", "--data-dir", server.dataDir]).stdout)).toEqual({
        certificates: 0,
        jwtSvids: 0,
        joinTokens: 0,
      });
    } finally {
      await server.stop();
    }
  });
});
