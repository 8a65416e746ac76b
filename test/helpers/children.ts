import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";

const running = new Set<ChildProcess>();

/**
 * `spawn`, remembering the child until it exits. A test that fails or times out before
 * its `finally` would otherwise leave a server behind, running on after the suite.
 */
export const spawnTracked = ((command: string, args: string[], options: SpawnOptions = {}): ChildProcess => {
  const child = spawn(command, args, options);
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}) as typeof spawn;

/** Kills every tracked child still running (cluster workers follow their primary). */
export function killTrackedChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  running.clear();
}
