import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { FileIdentitySource } from "../../src/sdk/identity-source.js";
import { authorizeId, createMtlsServer, MtlsClient, peerSpiffeId } from "../../src/sdk/mtls.js";
import { killTrackedChildren, spawnTracked } from "../helpers/children.js";
import { runSync } from "../helpers/run-sync.js";
import { CLI, runCli, spawnServe, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => {
  killTrackedChildren(); // before removing the directories the agents write to
  tmp.cleanup();
});

function startAgent(args: string[]): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
  const child = spawnTracked(process.execPath, [CLI, "agent", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, log: () => log, exited };
}

function serialOf(dir: string): string | undefined {
  if (!existsSync(`${dir}/svid.pem`)) return undefined;
  const out = runOpenssl(["x509", "-in", `${dir}/svid.pem`, "-noout", "-serial"]);
  return out.split("=")[1]?.trim().toLowerCase();
}

function runOpenssl(args: string[]): string {
  return runSync("openssl", args).stdout;
}

async function freshCa(name: string, extra: string[] = []) {
  const dataDir = `${tmp.dir}/${name}`;
  const serve = await spawnServe(["--data-dir", dataDir, ...extra]);
  const fingerprint = /fingerprint\s+(sha256:[0-9a-f]{64})/.exec(serve.banner)?.[1] as string;
  const token = (id: string) => runCli(["token", "create", "--spiffe-id", id, "--data-dir", dataDir]).stdout.trim();
  return { serve, dataDir, fingerprint, token };
}

describe("tessera agent --once", () => {
  it("writes files that complete a handshake between openssl s_server -Verify 1 and s_client", async () => {
    const ca = await freshCa("once");
    try {
      for (const name of ["a", "b"]) {
        const a = startAgent([
          "--server",
          ca.serve.apiUrl,
          "--join-token",
          ca.token(`spiffe://example.org/${name}`),
          "--out-dir",
          `${tmp.dir}/out-${name}`,
          "--bundle-fingerprint",
          ca.fingerprint,
          "--once",
        ]);
        expect(await a.exited, a.log()).toBe(0);
      }
      const a = `${tmp.dir}/out-a`;
      const b = `${tmp.dir}/out-b`;
      expect(statSync(`${a}/svid.key`).mode & 0o777).toBe(0o600);
      expect(statSync(`${a}/identity.pem`).mode & 0o777).toBe(0o600);
      const server = spawnTracked(
        "openssl",
        [
          "s_server",
          "-accept",
          "127.0.0.1:0", // the kernel picks the port; s_server prints it
          "-cert",
          `${a}/svid.pem`,
          "-cert_chain",
          `${a}/svid.pem`,
          "-key",
          `${a}/svid.key`,
          "-CAfile",
          `${a}/bundle.pem`,
          "-Verify",
          "1",
          "-verify_return_error",
          "-www",
        ],
        { stdio: "pipe" },
      );
      let serverLog = "";
      for (const stream of [server.stdout, server.stderr]) {
        stream.on("data", (d: Buffer) => {
          serverLog += d.toString();
        });
      }
      const port = await waitFor(async () => /ACCEPT 127\.0\.0\.1:(\d+)/.exec(serverLog)?.[1], 5000);
      expect(port, serverLog).toBeDefined();
      const client = spawnTracked(
        "openssl",
        [
          "s_client",
          "-connect",
          `127.0.0.1:${port}`,
          "-cert",
          `${b}/svid.pem`,
          "-cert_chain",
          `${b}/svid.pem`,
          "-key",
          `${b}/svid.key`,
          "-CAfile",
          `${b}/bundle.pem`,
          "-verify_return_error",
          "-brief",
        ],
        { stdio: "pipe" },
      );
      let out = "";
      client.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      client.stderr.on("data", (d: Buffer) => {
        out += d.toString();
      });
      client.stdin.end("GET / HTTP/1.0\r\n\r\n");
      await new Promise((r) => client.on("exit", r));
      server.kill();
      expect(out).toContain("CONNECTION ESTABLISHED");
      expect(out).toContain("Verification: OK");
      // the server demanded and verified the client's SVID (depth 0 = leaf, 1 = intermediate)
      expect(serverLog).toContain("verify return:1");
      expect(serverLog).not.toContain("verify error");
    } finally {
      await ca.serve.stop();
    }
  });

  it.each([
    [
      "rejects/a wrong pinned fingerprint",
      (_fp: string) => ["--bundle-fingerprint", `sha256:${"0".repeat(64)}`],
      "refusing to trust",
    ],
    ["rejects/no trust anchor at all", () => ["--data-dir", `${tmp.dir}/not-a-ca`], "never trusts the CA blindly"],
    [
      "rejects/the data directory of another CA as the trust anchor",
      () => {
        const other = `${tmp.dir}/other-ca-${Math.random().toString(36).slice(2)}`;
        expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", other]).status).toBe(0);
        return ["--data-dir", other];
      },
      "does not chain to the trusted roots",
    ],
    [
      "rejects/both a fingerprint and a bundle",
      (fp: string) => ["--bundle-fingerprint", fp, "--bundle", `${tmp.dir}/any.pem`],
      "not both",
    ],
    ["rejects/a malformed fingerprint", () => ["--bundle-fingerprint", "md5:abc"], "invalid fingerprint"],
  ])("%s", async (_name, trustArgs, message) => {
    const ca = await freshCa(`trust-${Math.random().toString(36).slice(2)}`);
    try {
      const a = startAgent([
        "--server",
        ca.serve.apiUrl,
        "--join-token",
        ca.token("spiffe://example.org/x"),
        "--out-dir",
        `${tmp.dir}/nope`,
        ...trustArgs(ca.fingerprint),
        "--once",
      ]);
      expect(await a.exited).not.toBe(0);
      expect(a.log()).toContain(message);
      expect(existsSync(`${tmp.dir}/nope/svid.pem`)).toBe(false);
    } finally {
      await ca.serve.stop();
    }
  });
});

describe("tessera agent on the CA's machine", () => {
  it("trusts the data directory's bundle when given neither --bundle-fingerprint nor --bundle, and says so", async () => {
    const ca = await freshCa("local-trust");
    try {
      const out = `${tmp.dir}/local-trust-id`;
      const a = startAgent([
        "--server",
        ca.serve.apiUrl,
        "--join-token",
        ca.token("spiffe://example.org/local"),
        "--out-dir",
        out,
        "--data-dir",
        ca.dataDir,
        "--once",
      ]);
      expect(await a.exited, a.log()).toBe(0);
      expect(a.log()).toContain(`trusting the roots in ${ca.dataDir}/bundle.pem`);
      const verified = runSync("openssl", [
        "verify",
        "-CAfile",
        `${ca.dataDir}/bundle.pem`,
        "-untrusted",
        `${out}/svid.pem`,
        `${out}/svid.pem`,
      ]);
      expect(verified.stdout).toContain(": OK");
    } finally {
      await ca.serve.stop();
    }
  });
});

describe.concurrent("a long-running agent with 30 s certificates", () => {
  it("renews before expiry (new serial, key still 0600) while an SDK mTLS server keeps serving", async () => {
    const ca = await freshCa("renew", ["--x509-ttl", "30s"]);
    const serverDir = `${tmp.dir}/renew-server`;
    const clientDir = `${tmp.dir}/renew-client`;
    const execLog = `${tmp.dir}/exec.log`;
    startAgent([
      "--server",
      ca.serve.apiUrl,
      "--join-token",
      ca.token("spiffe://example.org/greeter"),
      "--out-dir",
      serverDir,
      "--bundle-fingerprint",
      ca.fingerprint,
      "--exec",
      `echo changed >> ${execLog}`,
    ]);
    startAgent([
      "--server",
      ca.serve.apiUrl,
      "--join-token",
      ca.token("spiffe://example.org/caller"),
      "--out-dir",
      clientDir,
      "--bundle-fingerprint",
      ca.fingerprint,
    ]);
    const serverSource = await FileIdentitySource.open(serverDir, { pollMs: 200 });
    const clientSource = await FileIdentitySource.open(clientDir, { pollMs: 200 });
    const server = createMtlsServer(serverSource, { authorize: authorizeId("spiffe://example.org/caller") }, (req, res) => {
      res.end(JSON.stringify({ you: peerSpiffeId(req), me: serverSource.current().serial }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const client = new MtlsClient(clientSource, { authorize: authorizeId("spiffe://example.org/greeter") });
    const get = () =>
      new Promise<{ you: string; me: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/", agent: client.agent }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          let body = "";
          res.on("data", (d) => {
            body += d;
          });
          res.on("end", () => resolve(JSON.parse(body)));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      const first = serialOf(serverDir);
      expect((await get()).you).toBe("spiffe://example.org/caller");
      const keyMode = () => statSync(`${serverDir}/svid.key`).mode & 0o777;
      let served = 0;
      const rotated = await waitFor(
        async () => {
          await get(); // keeps serving throughout
          served++;
          expect(keyMode()).toBe(0o600);
          const now = serialOf(serverDir);
          return now && now !== first ? now : undefined;
        },
        25_000,
        250,
      );
      expect(rotated, "renewed before the 30 s certificate expired").toBeDefined();
      const after = await waitFor(async () => {
        const r = await get();
        return r.me !== first ? r : undefined;
      }, 5000);
      expect(after?.you).toBe("spiffe://example.org/caller");
      expect(served).toBeGreaterThan(10);
      expect(readFileSync(execLog, "utf8").trim().split("\n").length).toBeGreaterThanOrEqual(2);
    } finally {
      client.close();
      server.close();
      serverSource.close();
      clientSource.close();
      await ca.serve.stop();
    }
  }, 60_000);

  it("recovers on its own after the CA was down for a while, and exits cleanly on SIGTERM", async () => {
    const ca = await freshCa("outage", ["--x509-ttl", "30s"]);
    const dir = `${tmp.dir}/outage`;
    const agent = startAgent([
      "--server",
      ca.serve.apiUrl,
      "--join-token",
      ca.token("spiffe://example.org/steady"),
      "--out-dir",
      dir,
      "--bundle-fingerprint",
      ca.fingerprint,
    ]);
    await waitFor(async () => serialOf(dir), 10_000);
    const first = serialOf(dir);
    await ca.serve.stop("SIGKILL");
    await new Promise((r) => setTimeout(r, 17_000)); // past the renewal point, CA still down
    expect(agent.log()).toMatch(/renewal failed \(.*\); retrying in \d+\.\ds/);
    const port = new URL(ca.serve.apiUrl).port;
    const again = await spawnServe(["--data-dir", ca.dataDir, "--listen", `127.0.0.1:${port}`, "--x509-ttl", "30s"]);
    try {
      const renewed = await waitFor(
        async () => {
          const s = serialOf(dir);
          return s && s !== first ? s : undefined;
        },
        12_000,
        200,
      );
      expect(renewed, "renewed once the CA was back").toBeDefined();
      agent.child.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
      expect(agent.log()).toContain("stopped");
      const retries = agent.log().match(/retrying in/g)?.length ?? 0;
      expect(retries).toBeLessThan(15); // backoff, not a tight loop
    } finally {
      await again.stop();
    }
  }, 60_000);
});
