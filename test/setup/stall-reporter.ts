import { rmSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { lastModified, progressDir, progressFile, readProgress } from "./progress-file.js";

const QUIET_MS = Number(process.env.TESSERA_TEST_STALL_MS ?? 120_000);
const CHECK_EVERY_MS = Math.min(15_000, QUIET_MS / 4);

interface ModuleState {
  name: string;
  progress: string;
  startedAt: number;
  lastReportAt: number;
}

/**
 * Names a test file that has made no progress for two minutes, with the tests it is
 * running and the last one it finished (from the progress file its test process
 * writes: test/setup/test-process.ts). It runs in vitest's main process, so it still
 * speaks when a test process is blocked; the default reporter prints a file's results
 * only once the whole file has finished, which says nothing about one that never does.
 */
export default class StallReporter implements Reporter {
  private readonly modules = new Map<string, ModuleState>();
  private timer: NodeJS.Timeout | undefined;

  onTestRunStart(): void {
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  onTestModuleStart(module: TestModule): void {
    this.modules.set(module.id, {
      name: relative(process.cwd(), module.moduleId),
      progress: progressFile(module.moduleId, process.pid),
      startedAt: Date.now(),
      lastReportAt: 0,
    });
  }

  onTestModuleEnd(module: TestModule): void {
    const state = this.modules.get(module.id);
    if (state) rmSync(state.progress, { force: true });
    this.modules.delete(module.id);
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
    rmSync(progressDir(process.pid), { recursive: true, force: true });
  }

  private check(): void {
    const now = Date.now();
    for (const state of this.modules.values()) {
      const last = Math.max(state.startedAt, lastModified(state.progress));
      if (now - last < QUIET_MS || now - state.lastReportAt < QUIET_MS) continue;
      state.lastReportAt = now;
      const { running, lastFinished } = readProgress(state.progress);
      process.stderr.write(
        `\n[stalled] ${state.name}: no progress for ${Math.round((now - last) / 1000)} s; ` +
          `running: ${running.length ? running.join(" | ") : "(none)"}; last finished: ${lastFinished ?? "(none)"}\n`,
      );
    }
  }
}
