import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnTracked } from "./children.js";
import { runSync } from "./run-sync.js";
import { REPO } from "./server.js";

const SOURCE = join(REPO, "test", "interop", "go-verifier", "main.go");

let built: string | undefined;

/** Go needs a build cache; a CI shell may have neither HOME nor XDG_CACHE_HOME. */
function goEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CGO_ENABLED: "0" };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(tmpdir(), "tessera-go-cache");
  return env;
}

/**
 * The Go relying service (test/interop/go-verifier), built with the system's Go once per
 * source version. Test files run in parallel, so each builds to a file of its own and
 * renames it into place.
 */
function binary(): string {
  if (built) return built;
  const hash = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 16);
  const path = join(tmpdir(), `tessera-go-verifier-${hash}`);
  if (!existsSync(path)) {
    const partial = `${path}.${process.pid}`;
    // ~6 s with an empty build cache here; generous for a slow machine
    const r = runSync("go", ["build", "-o", partial, SOURCE], { env: goEnv(), timeoutMs: 300_000 });
    if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
    renameSync(partial, path);
  }
  built = path;
  return path;
}

export interface GoResult {
  status: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs one go-verifier command synchronously (verify, crl, client). */
export function goVerifier(args: string[]): GoResult {
  const r = runSync(binary(), args);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

/** Runs one go-verifier command without blocking the event loop (for calls to a server in this process). */
export function goVerifierAsync(args: string[]): Promise<GoResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(binary(), args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr, json: () => JSON.parse(stdout) }));
  });
}

/** Starts the Go mTLS service; it serves until `stop`. */
export async function goServer(args: string[]): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawnTracked(binary(), ["server", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (d) => resolve(Number(String(d).trim())));
    child.once("close", (code) => reject(new Error(`go server exited ${code}: ${stderr}`)));
  });
  return {
    port,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once("close", () => resolve());
        child.stdin?.end();
      }),
  };
}
