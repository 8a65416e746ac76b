import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Where a test process notes each test it starts and ends, written at once, so that
 * vitest's main process can name the test a blocked test process is stuck in (its own
 * reports are sent on a timer, which a blocked process never runs).
 */
export function progressFile(modulePath: string, mainPid: number): string {
  const dir = progressDir(mainPid);
  mkdirSync(dir, { recursive: true });
  return join(dir, createHash("sha256").update(modulePath).digest("hex").slice(0, 16));
}

export function noteProgress(file: string, event: "start" | "end", test: string): void {
  appendFileSync(file, `${event}\t${test}\n`);
}

export function progressDir(mainPid: number): string {
  return join(tmpdir(), `tessera-vitest-${mainPid}`);
}

/** The tests started and not ended, and the last one ended, per the progress file. */
export function readProgress(file: string): { running: string[]; lastFinished?: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { running: [] };
  }
  const running = new Set<string>();
  let lastFinished: string | undefined;
  for (const line of text.split("\n")) {
    const [event, test] = line.split("\t");
    if (!test) continue;
    if (event === "start") running.add(test);
    else {
      running.delete(test);
      lastFinished = test;
    }
  }
  return { running: [...running], lastFinished };
}

/** When the progress file last changed (0 if there is none yet). */
export function lastModified(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
