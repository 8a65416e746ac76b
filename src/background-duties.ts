import type { Logger } from "pino";

export interface Duty {
  /** Names the duty in the log lines of its failure and recovery. */
  name: string;
  run(): Promise<void>;
}

/** The first retry of a failed duty; each further failure doubles the wait, up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 60_000;
/** While a duty keeps failing the same way, its failure is logged again at most this often. */
export const REPEAT_LOG_MS = 60_000;

interface Failing {
  failures: number;
  retryAt: number;
  message: string;
  loggedAt: number;
}

/**
 * Runs a server's periodic duties in order, each on its own: one that fails
 * is logged and the rest still run, so a CRL build that keeps failing cannot
 * stop the server's own certificate from being renewed or the audit log from
 * being shipped. A failed duty is retried with exponential backoff (a CRL
 * build reads every revoked entry; retrying it on every 100 ms round would
 * occupy the event loop), and a persistent failure is logged when it begins,
 * when its message changes, once a minute, and when it ends.
 */
export class DutyRunner {
  private readonly failing = new Map<string, Failing>();

  private readonly now: () => number;

  constructor(
    private readonly duties: readonly Duty[],
    private readonly logger: Logger,
    private readonly options: {
      /** Real time by default: backoff is about how busy the process is, not the CA's clock. */
      now?: () => number;
      /** Called at every failure (a metrics counter, say), logged or not. */
      onFailure?: (duty: string) => void;
    } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** One round; returns the names of the duties that failed in it. */
  async runRound(): Promise<string[]> {
    const failed: string[] = [];
    for (const duty of this.duties) {
      const before = this.failing.get(duty.name);
      if (before && this.now() < before.retryAt) continue;
      try {
        await duty.run();
        if (before) {
          this.failing.delete(duty.name);
          this.logger.info({ duty: duty.name, failures: before.failures }, `background duty recovered: ${duty.name}`);
        }
      } catch (err) {
        failed.push(duty.name);
        this.options.onFailure?.(duty.name);
        this.recordFailure(duty.name, before, err);
      }
    }
    return failed;
  }

  private recordFailure(name: string, before: Failing | undefined, err: unknown): void {
    const now = this.now();
    const failures = (before?.failures ?? 0) + 1;
    const message = err instanceof Error ? err.message : String(err);
    const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
    const log = !before || before.message !== message || now - before.loggedAt >= REPEAT_LOG_MS;
    this.failing.set(name, { failures, retryAt: now + wait, message, loggedAt: log ? now : (before?.loggedAt ?? now) });
    if (log) this.logger.error({ err, duty: name, failures, retry_in_ms: wait }, `background duty failed: ${name}`);
  }
}
