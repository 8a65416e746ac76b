import type { Logger } from "pino";

export interface Duty {
  /** Names the duty in the log line of its failure. */
  name: string;
  run(): Promise<void>;
}

/**
 * Runs a server's periodic duties in order, each on its own: one that fails
 * is logged and the rest still run. A CRL build that keeps failing must not
 * stop the server's own certificate from being renewed or the audit log from
 * being shipped. Returns the names of the duties that failed.
 */
export async function runDuties(duties: readonly Duty[], logger: Logger): Promise<string[]> {
  const failed: string[] = [];
  for (const duty of duties) {
    try {
      await duty.run();
    } catch (err) {
      failed.push(duty.name);
      logger.error({ err, duty: duty.name }, `background duty failed: ${duty.name}`);
    }
  }
  return failed;
}
