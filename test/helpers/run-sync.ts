import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SyncResult {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for commands that write DER. */
  raw: Buffer;
}

/**
 * Runs a command to completion with a deadline. A child that never exits would otherwise
 * block this test process for good: vitest's own timeouts are timers, and no timer fires
 * while spawnSync holds the event loop. Past the deadline the child is killed and the test
 * fails, naming the command. Output goes to files, not pipes: spawnSync waits for its
 * pipes to close, and a process the command leaves behind (a cluster worker) could hold
 * them open after the command itself has exited.
 */
export function runSync(
  command: string,
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): SyncResult {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), "tessera-run-"));
  const outFd = openSync(join(dir, "stdout"), "w+");
  const errFd = openSync(join(dir, "stderr"), "w+");
  let r: ReturnType<typeof spawnSync>;
  let raw: Buffer;
  let stderr: string;
  try {
    r = spawnSync(command, args, {
      input: options.input ?? "",
      env: options.env,
      stdio: ["pipe", outFd, errFd],
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    });
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    raw = readFileSync(join(dir, "stdout"));
    stderr = readFileSync(join(dir, "stderr"), "utf8");
    rmSync(dir, { recursive: true, force: true });
  }
  const stdout = raw.toString("utf8");
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT") {
    throw new Error(
      `${command} ${args.join(" ")} did not finish within ${timeoutMs / 1000} s and was killed\n` +
        `stdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`,
    );
  }
  if (r.error) throw new Error(`cannot run ${command}: ${r.error.message}`);
  return { status: r.status ?? -1, stdout, stderr, raw };
}
