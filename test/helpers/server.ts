import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Logger, pino } from "pino";
import { DEFAULT_INIT, initializeCa } from "../../src/ca/init-ca.js";
import { type Clock, systemClock } from "../../src/clock.js";
import { makeServeConfig, type ServeConfig } from "../../src/config.js";
import { type RunningTessera, startTessera } from "../../src/main.js";
import { spawnTracked } from "./children.js";
import { call, type Reply, type RequestOptions } from "./https-client.js";
import { runSync } from "./run-sync.js";
import { tempDir } from "./tmp.js";

export const REPO = join(import.meta.dirname, "..", "..");
export const CLI = join(REPO, "bin", "tessera.js");

export interface TestServer extends RunningTessera {
  dataDir: string;
  bundle: string;
  /** The plain-HTTP base URL (the CRL listener). */
  publicUrl: string;
  request(path: string, opts?: RequestOptions): Promise<Reply>;
  stop(): Promise<void>;
}

/** Initialises a CA in a temp dir (unless given one) and runs the real server in-process on loopback ports. */
export async function startTestServer(
  options: {
    dataDir?: string;
    clock?: Clock;
    config?: Partial<ServeConfig>;
    env?: NodeJS.ProcessEnv;
    keyType?: string;
    logger?: Logger;
  } = {},
): Promise<TestServer> {
  const tmp = options.dataDir ? undefined : tempDir();
  const dataDir = options.dataDir ?? join(tmp?.dir as string, "data");
  const env = options.env ?? {};
  const clock = options.clock ?? systemClock;
  if (!options.dataDir) {
    await initializeCa(
      dataDir,
      { ...DEFAULT_INIT, trustDomain: "example.org", keyType: (options.keyType ?? "ec-p256") as typeof DEFAULT_INIT.keyType },
      env,
      clock,
    );
  }
  const config = makeServeConfig({
    dataDir,
    listen: { host: "127.0.0.1", port: 0 },
    httpListen: { host: "127.0.0.1", port: 0 },
    pollIntervalMs: 100,
    ...options.config,
  });
  const running = await startTessera(config, { env, clock, logger: options.logger ?? pino({ level: "silent" }) });
  const bundle = readFileSync(running.bundlePath, "utf8");
  return {
    ...running,
    dataDir,
    bundle,
    publicUrl: new URL(running.crlUrl).origin,
    request: (path, opts = {}) => call(running.apiUrl + path, { ca: bundle, ...opts }),
    async stop() {
      await running.close();
      tmp?.cleanup();
    },
  };
}

/** Runs the built CLI synchronously (never against a server in this process: it could not answer). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const { status, stdout, stderr } = runSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, TESSERA_LOG_LEVEL: "silent", ...env },
  });
  return { status, stdout, stderr };
}

/** Starts `tessera serve` as a child process and waits for its banner. */
export async function spawnServe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{
  child: ChildProcess;
  apiUrl: string;
  crlUrl: string;
  banner: string;
  /** Structured log lines the server has written so far (when TESSERA_LOG_LEVEL is not silent). */
  logs: () => Array<Record<string, unknown>>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}> {
  const child = spawnTracked(process.execPath, [CLI, "serve", "--listen", "127.0.0.1:0", ...args], {
    env: { ...process.env, TESSERA_LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  let banner = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (d: Buffer) => {
      banner += d.toString();
      if (/fingerprint/.test(banner)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${banner}`)));
  });
  const apiUrl = /API\s+(https:\/\/\S+)/.exec(banner)?.[1] as string;
  const crlUrl = /CRL\s+(\S+)/.exec(banner)?.[1] as string;
  return {
    child,
    apiUrl,
    crlUrl,
    banner,
    logs: () =>
      stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

/** Polls `check` until it returns a value or `deadlineMs` passes (a spec deadline, not a speed measurement). */
export async function waitFor<T>(check: () => Promise<T | undefined>, deadlineMs: number, stepMs = 50): Promise<T | undefined> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export { call };
