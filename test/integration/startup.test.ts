import type { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { connect, type TLSSocket } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { spawnTracked } from "../helpers/children.js";
import { call } from "../helpers/https-client.js";
import { openssl } from "../helpers/openssl.js";
import { runSync } from "../helpers/run-sync.js";
import { CLI, runCli, spawnServe, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("first start with the embedded default", () => {
  it("creates and initialises the data directory and prints the bundle path and its fingerprint", async () => {
    const dataDir = `${tmp.dir}/fresh`;
    const serve = await spawnServe([], { TESSERA_DATA_DIR: dataDir });
    try {
      expect(serve.banner).toContain("trust domain example.org");
      const bundlePath = /bundle\s+(\S+)/.exec(serve.banner)?.[1] as string;
      expect(bundlePath).toBe(`${dataDir}/bundle.pem`);
      const printed = /fingerprint\s+sha256:([0-9a-f]{64})/.exec(serve.banner)?.[1];
      const fp = openssl(["x509", "-in", bundlePath, "-noout", "-fingerprint", "-sha256"]).stdout;
      expect(fp.split("=")[1]?.trim().replace(/:/g, "").toLowerCase()).toBe(printed);
      expect(statSync(`${dataDir}/master.key`).mode & 0o777).toBe(0o600);
      const bundle = readFileSync(bundlePath, "utf8");
      const served = await call(`${serve.apiUrl}/v1/bundle`, { ca: bundle });
      expect(served.text()).toBe(bundle);
      expect(served.headers["content-type"]).toContain("application/x-pem-file");
      expect((await call(`${serve.apiUrl}/healthz`, { ca: bundle })).json()).toEqual({ status: "ok" });
      expect((await call(`${serve.apiUrl}/readyz`, { ca: bundle })).status).toBe(200);
      const metrics = await call(`${serve.apiUrl}/metrics`, { ca: bundle });
      expect(metrics.headers["content-type"]).toContain("text/plain");

      // the migrations were applied and recorded, in order
      const status = runCli(["ca", "status", "--json", "--data-dir", dataDir]);
      const keys = JSON.parse(status.stdout).keys as Array<{ kind: string; state: string }>;
      expect(keys.map((k) => `${k.kind}:${k.state}`).sort()).toEqual([
        "jwt:active",
        "x509_intermediate:active",
        "x509_root:active",
      ]);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("presents spiffe://TD/tessera/server with localhost, 127.0.0.1 and --dns-name SANs, over TLS 1.2+ only", async () => {
    const dataDir = `${tmp.dir}/ident`;
    const serve = await spawnServe(["--dns-name", "ca.internal.example"], { TESSERA_DATA_DIR: dataDir });
    try {
      const port = Number(new URL(serve.apiUrl).port);
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      const peer = await new Promise<X509Certificate>((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port, ca: bundle, servername: "localhost" }, () => {
          const cert = s.getPeerX509Certificate();
          s.end();
          cert ? resolve(cert) : reject(new Error("no peer certificate"));
        });
        s.on("error", reject);
      });
      expect(peer.subjectAltName).toContain("URI:spiffe://example.org/tessera/server");
      expect(peer.subjectAltName).toContain("DNS:localhost");
      expect(peer.subjectAltName).toContain("DNS:ca.internal.example");
      expect(peer.subjectAltName).toContain("IP Address:127.0.0.1");

      const tls11 = openssl(["s_client", "-connect", `127.0.0.1:${port}`, "-tls1_1", "-brief"], "");
      expect(tls11.status).not.toBe(0);
      const weak = openssl(["s_client", "-connect", `127.0.0.1:${port}`, "-tls1_2", "-cipher", "AES128-SHA", "-brief"], "");
      expect(weak.status).not.toBe(0);
      const good = openssl(
        ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", `${dataDir}/bundle.pem`, "-verify_return_error", "-brief"],
        "",
      );
      expect(good.stderr + good.stdout).toMatch(/Verification: OK/);
    } finally {
      await serve.stop();
    }
  });
});

describe("init and key protection", () => {
  it("refuses to re-initialise, and rejects a bad trust domain or key type", () => {
    const dataDir = `${tmp.dir}/init`;
    expect(runCli(["init", "--trust-domain", "prod.example", "--key-type", "ec-p384", "--data-dir", dataDir]).status).toBe(0);
    const again = runCli(["init", "--trust-domain", "prod.example", "--data-dir", dataDir]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("already initialised");
    const json = JSON.parse(runCli(["init", "--trust-domain", "json.example", "--json", "--data-dir", `${tmp.dir}/j`]).stdout);
    expect(Object.keys(json).sort()).toEqual(
      ["bundle", "bundle_fingerprint", "data_dir", "intermediate_id", "jwt_key_id", "root_id", "trust_domain"].sort(),
    );
    expect(json.bundle_fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(runCli(["init", "--trust-domain", "Bad.Example", "--data-dir", `${tmp.dir}/x1`]).stderr).toContain("trust domain");
    expect(runCli(["init", "--trust-domain", "ok.example", "--key-type", "dsa", "--data-dir", `${tmp.dir}/x2`]).stderr).toContain(
      "unknown key type",
    );
    const root = runCli(["bundle", "--data-dir", dataDir]).stdout;
    expect(openssl(["x509", "-noout", "-text"], root).stdout).toContain("NIST CURVE: P-384");
  });

  it("encrypts CA keys with TESSERA_PASSPHRASE and refuses a wrong one with one clear line", async () => {
    const dataDir = `${tmp.dir}/pass`;
    const env = { TESSERA_PASSPHRASE: "a long and secret passphrase" };
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir], env).status).toBe(0);
    const wrong = runCli(["crl", "--pem", "--data-dir", dataDir], { TESSERA_PASSPHRASE: "not the passphrase" });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr.trim()).toBe("tessera: cannot decrypt the CA keys: wrong passphrase or key file");
    expect(wrong.stderr).not.toContain("a long and secret passphrase");
    const missing = runCli(["crl", "--pem", "--data-dir", dataDir]);
    expect(missing.stderr).toContain("TESSERA_PASSPHRASE");
    const right = runCli(["crl", "--pem", "--data-dir", dataDir], env);
    expect(right.stdout).toContain("BEGIN X509 CRL");
    await expect(spawnServe(["--data-dir", dataDir], { TESSERA_PASSPHRASE: "nope nope nope" })).rejects.toThrow(
      /wrong passphrase/,
    );
    // the database holds no plaintext private key
    const db = readFileSync(`${dataDir}/tessera.db`);
    expect(db.includes(Buffer.from("PRIVATE KEY"))).toBe(false);
  });

  it("prints the CRL as DER to a pipe, and refuses to put DER on a terminal", () => {
    const dataDir = `${tmp.dir}/crl-out`;
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]).status).toBe(0);
    const der = runSync(process.execPath, [CLI, "crl", "--data-dir", dataDir]).raw;
    expect(openssl(["crl", "-inform", "DER", "-noout", "-text"], der).stdout).toContain("Version 2");
    // script(1) runs the command on a pseudo-terminal
    const tty = runSync("script", ["-qec", `${process.execPath} ${CLI} crl --data-dir ${dataDir}`, "/dev/null"]);
    expect(tty.status).not.toBe(0);
    expect(tty.stdout).toContain("tessera: the CRL is DER (binary): redirect it to a file");
    expect(tty.stdout).not.toContain("Tessera Issuing CA"); // no DER written
    const all = runCli(["crl", "--all", "--data-dir", dataDir]);
    expect(all.status).not.toBe(0);
    expect(all.stderr.trim()).toBe("tessera: --all needs --pem (DER holds one CRL)");
  });

  it("says in one line that the listen address is taken", async () => {
    const { createServer } = await import("node:net");
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(
        spawnServe(["--listen", `127.0.0.1:${port}`, "--workers", "1"], { TESSERA_DATA_DIR: `${tmp.dir}/taken` }),
      ).rejects.toThrow(`tessera: cannot listen on 127.0.0.1:${port}: the address is already in use`);
      // with workers: the start fails the same way, without promising a restart that would only fail again
      const clustered = runSync(process.execPath, [CLI, "serve", "--listen", `127.0.0.1:${port}`, "--workers", "2"], {
        env: { ...process.env, TESSERA_DATA_DIR: `${tmp.dir}/taken`, TESSERA_LOG_LEVEL: "info" },
        timeoutMs: 20_000,
      });
      expect(clustered.status).toBe(1);
      expect(clustered.stderr).toContain(`tessera: cannot listen on 127.0.0.1:${port}: the address is already in use`);
      expect(clustered.stdout).not.toContain("starting a new one");
    } finally {
      taken.close();
    }
  });

  it("prints --help for every command", () => {
    for (const cmd of [
      [],
      ["init"],
      ["serve"],
      ["token", "create"],
      ["cert", "list"],
      ["cert", "show"],
      ["revoke"],
      ["crl"],
      ["bundle"],
      ["ca", "status"],
      ["audit", "list"],
      ["audit", "verify"],
    ]) {
      const r = runCli([...cmd, "--help"]);
      expect(r.status, cmd.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: tessera");
    }
  });
});

describe("workers", () => {
  const workersOf = (pid: number) =>
    runSync("ps", ["-o", "pid=", "--ppid", String(pid)])
      .stdout.split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);

  it("replaces a worker that dies, and keeps serving meanwhile", async () => {
    const dataDir = `${tmp.dir}/workers`;
    const serve = await spawnServe(["--workers", "2"], { TESSERA_DATA_DIR: dataDir, TESSERA_LOG_LEVEL: "info" });
    try {
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      const before = workersOf(serve.child.pid as number);
      expect(before).toHaveLength(2);
      process.kill(before[1] as number, "SIGKILL");
      const replaced = await waitFor(async () => {
        const now = workersOf(serve.child.pid as number);
        return now.length === 2 && !now.includes(before[1] as number) ? now : undefined;
      }, 15_000);
      expect(replaced).toBeDefined();
      expect(serve.logs().some((l) => l.msg === "worker died; starting a new one")).toBe(true);
      const healthy = await waitFor(async () => {
        const r = await call(`${serve.apiUrl}/readyz`, { ca: bundle }).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      }, 15_000);
      expect(healthy?.status).toBe(200);
    } finally {
      await serve.stop();
    }
  });

  /** The client ports of the established connections to `port` that process `pid` holds, read from /proc. */
  const connectionsOf = (pid: number, port: number): Set<number> => {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return ""; // closed meanwhile
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1] as string);
    }
    const clients = new Set<number>();
    for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]];
      if (!local || state !== "01" || !inodes.has(inode as string)) continue; // 01: ESTABLISHED
      if (Number.parseInt(local.split(":")[1] as string, 16) === port)
        clients.add(Number.parseInt(remote?.split(":")[1] as string, 16));
    }
    return clients;
  };

  it("spreads connections evenly over the workers, and sends new ones where connections closed", async () => {
    const dataDir = `${tmp.dir}/balance`;
    const serve = await spawnServe(["--workers", "2"], { TESSERA_DATA_DIR: dataDir });
    const open: TLSSocket[] = [];
    try {
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      const port = Number(new URL(serve.apiUrl).port);
      // connects and gets one answer over the connection, so that a worker holds it
      const connectAndAsk = () =>
        new Promise<TLSSocket>((resolve, reject) => {
          const socket = connect({ host: "127.0.0.1", port, ca: bundle, servername: "localhost" }, () =>
            socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
          );
          socket.once("data", () => resolve(socket));
          socket.once("error", reject);
          open.push(socket);
        });
      const [w1, w2] = workersOf(serve.child.pid as number) as [number, number];
      // a burst: node:cluster's own round robin split such bursts unevenly
      const first = await Promise.all(Array.from({ length: 10 }, connectAndAsk));
      const held = () => [connectionsOf(w1, port), connectionsOf(w2, port)] as const;
      const [a, b] = held();
      expect([a.size, b.size]).toEqual([5, 5]);
      expect(first.every((s) => a.has(s.localPort as number) !== b.has(s.localPort as number))).toBe(true);

      // the first worker's five close; the next four connections all go to it
      for (const s of first.filter((s) => a.has(s.localPort as number))) s.destroy();
      expect(await waitFor(async () => (held()[0].size === 0 ? true : undefined), 10_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // the worker's close reports reach the primary over IPC
      const next = [];
      for (let i = 0; i < 4; i++) next.push(await connectAndAsk());
      const [a2, b2] = held();
      expect(next.map((s) => a2.has(s.localPort as number))).toEqual([true, true, true, true]);
      expect([a2.size, b2.size]).toEqual([4, 5]);
    } finally {
      for (const s of open) s.destroy();
      await serve.stop();
    }
  });
});

describe("Ctrl-C in a terminal (SIGINT to the process group)", () => {
  it.each(["1", "2"])("closes --workers %s cleanly: exit 0, and the database closed (no WAL left behind)", async (workers) => {
    const dataDir = `${tmp.dir}/sigint-${workers}`;
    runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]);
    const child = spawnTracked(
      process.execPath,
      [CLI, "serve", "--listen", "127.0.0.1:0", "--workers", workers, "--data-dir", dataDir],
      {
        env: { ...process.env, TESSERA_LOG_LEVEL: "silent" },
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      },
    );
    let banner = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on("data", (d: Buffer) => {
        banner += d.toString();
        if (banner.includes("fingerprint")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${banner}`)));
    });
    expect(existsSync(`${dataDir}/tessera.db-wal`)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    process.kill(-(child.pid as number), "SIGINT");
    expect(await exited).toBe(0);
    // the workers may still be closing when the primary exits: wait for them to be gone
    await waitFor(async () => (runSync("pgrep", ["-g", String(child.pid)]).status === 1 ? true : undefined), 10_000);
    expect(existsSync(`${dataDir}/tessera.db-wal`)).toBe(false);
  });
});

describe("audit log of CLI actions", () => {
  it("records init and token creation (never the token itself), and audit verify names an edited row", async () => {
    const dataDir = `${tmp.dir}/audit`;
    runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]);
    const token = runCli(["token", "create", "--spiffe-id", "spiffe://example.org/a", "--data-dir", dataDir]).stdout.trim();
    const list = JSON.parse(runCli(["audit", "list", "--json", "--data-dir", dataDir]).stdout) as Array<{
      action: string;
      prev_hash: string;
      hash: string;
    }>;
    expect(list.map((r) => r.action)).toEqual(["ca.init", "ca.key.activate", "ca.key.activate", "token.create"]);
    expect(list[1]?.prev_hash).toBe(list[0]?.hash);
    expect(JSON.stringify(list)).not.toContain(token);
    expect(runCli(["audit", "verify", "--data-dir", dataDir]).status).toBe(0);

    const { default: Database } = await import("better-sqlite3");
    const db = new Database(`${dataDir}/tessera.db`);
    db.exec("DROP TRIGGER audit_log_no_update");
    db.prepare("UPDATE audit_log SET subject = 'spiffe://example.org/b' WHERE seq = 4").run();
    db.close();
    const verify = runCli(["audit", "verify", "--data-dir", dataDir]);
    expect(verify.status).not.toBe(0);
    expect(verify.stderr).toContain("row 4");
    const verdict = JSON.parse(runCli(["audit", "verify", "--json", "--data-dir", dataDir]).stdout);
    expect(verdict).toMatchObject({ ok: false, bad_seq: 4 });
  });

  it("prints the head to keep as an anchor, and with it catches rows cut from the end", async () => {
    const dataDir = `${tmp.dir}/audit-anchor`;
    runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]);
    for (const name of ["a", "b"]) {
      runCli(["token", "create", "--spiffe-id", `spiffe://example.org/${name}`, "--data-dir", dataDir]);
    }
    const intact = runCli(["audit", "verify", "--data-dir", dataDir]);
    expect(intact.status, intact.stderr).toBe(0);
    const head = /head (\d+:[0-9a-f]{64})/.exec(intact.stdout)?.[1] as string;
    expect(head).toMatch(/^5:/);
    expect(JSON.parse(runCli(["audit", "verify", "--json", "--data-dir", dataDir]).stdout)).toEqual({
      ok: true,
      rows: 5,
      head,
      archived_through: 0,
    });
    const anchored = runCli(["audit", "verify", "--anchor", head, "--data-dir", dataDir]);
    expect(anchored.status, anchored.stderr).toBe(0);
    expect(anchored.stdout).toContain("anchor matches");

    // paging through the log
    const page = JSON.parse(runCli(["audit", "list", "--json", "--after", "1", "--limit", "2", "--data-dir", dataDir]).stdout);
    expect(page.map((r: { seq: number }) => r.seq)).toEqual([2, 3]);
    expect(JSON.parse(runCli(["audit", "list", "--json", "--after", "5", "--data-dir", dataDir]).stdout)).toEqual([]);
    const table = runCli(["audit", "list", "--after", "3", "--data-dir", dataDir]).stdout.trim().split("\n");
    expect(table.map((l) => l.split(/\s+/)[0])).toEqual(["SEQ", "4", "5"]);

    for (const bad of [
      ["audit", "verify", "--anchor", "5"],
      ["audit", "verify", "--anchor", `5:${"g".repeat(64)}`],
      ["audit", "list", "--limit", "ten"],
      ["audit", "list", "--after", "-1"],
      ["cert", "list", "--limit", "0"],
    ]) {
      const r = runCli([...bad, "--data-dir", dataDir]);
      expect(r.status, bad.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(/must be/);
    }

    // someone with write access drops the last row: the chain alone still verifies, the anchor does not
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(`${dataDir}/tessera.db`);
    db.exec("DROP TRIGGER audit_log_no_delete");
    db.prepare("DELETE FROM audit_log WHERE seq = 5").run();
    db.close();
    expect(runCli(["audit", "verify", "--data-dir", dataDir]).status).toBe(0);
    const cut = runCli(["audit", "verify", "--anchor", head, "--data-dir", dataDir]);
    expect(cut.status).not.toBe(0);
    expect(cut.stderr).toContain("rows were removed from its end");
  });
});
