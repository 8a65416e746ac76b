import { type ChildProcess, execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { spawnTracked } from "../helpers/children.js";
import { CLI, REPO, runCli, spawnServe, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  tmp.cleanup();
});

describe("examples/: two services calling each other with Tessera identities", () => {
  it("greets the authorized caller over mTLS with a JWT-SVID, and turns away an intruder", async () => {
    const dataDir = `${tmp.dir}/ca`;
    const ca = await spawnServe(["--data-dir", dataDir]);
    const fingerprint = /fingerprint\s+(sha256:[0-9a-f]{64})/.exec(ca.banner)?.[1] as string;
    const run = promisify(execFile);
    try {
      for (const name of ["greeter", "caller", "intruder"]) {
        const token = runCli([
          "token",
          "create",
          "--spiffe-id",
          `spiffe://example.org/${name}`,
          "--data-dir",
          dataDir,
        ]).stdout.trim();
        await run(process.execPath, [
          CLI,
          "agent",
          "--server",
          ca.apiUrl,
          "--join-token",
          token,
          "--out-dir",
          `${tmp.dir}/${name}-id`,
          "--bundle-fingerprint",
          fingerprint,
          "--once",
        ]);
      }
      const greeter = spawnTracked(process.execPath, [join(REPO, "examples/greeter.mjs")], {
        cwd: REPO,
        env: { ...process.env, TESSERA_URL: ca.apiUrl, PORT: "0", IDENTITY_DIR: `${tmp.dir}/greeter-id` },
      });
      children.push(greeter);
      let greeterOut = "";
      greeter.stdout.on("data", (d: Buffer) => {
        greeterOut += d.toString();
      });
      greeter.stderr.on("data", (d: Buffer) => {
        greeterOut += d.toString();
      });
      const greeterUrl = await waitFor(async () => /listening on (https:\/\/\S+)/.exec(greeterOut)?.[1], 10_000);
      expect(greeterUrl, greeterOut).toBeDefined();
      const env = { ...process.env, TESSERA_URL: ca.apiUrl, GREETER: greeterUrl };

      const caller = await run(process.execPath, [join(REPO, "examples/caller.mjs")], {
        cwd: REPO,
        env: { ...env, IDENTITY_DIR: `${tmp.dir}/caller-id` },
      });
      expect(caller.stdout.trim()).toBe("hello spiffe://example.org/caller, from spiffe://example.org/greeter");

      const intruder = await run(process.execPath, [join(REPO, "examples/caller.mjs")], {
        cwd: REPO,
        env: { ...env, IDENTITY_DIR: `${tmp.dir}/intruder-id` },
      }).catch((e: { code: number; stdout: string; stderr: string }) => e);
      expect("code" in intruder ? intruder.code : 0).not.toBe(0);
      expect(intruder.stdout).not.toContain("hello");
      greeter.kill("SIGTERM");
    } finally {
      await ca.stop();
    }
  });
});
