import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { formatDuration, parseDuration } from "../../src/duration.js";
import { DEFAULT_RETENTION_MS, prune } from "../../src/flows/prune.js";
import { type GlobalOptions, operator, printJson, withDataDir, withStore } from "../context.js";

export function registerPrune(program: Command): void {
  withDataDir(program.command("prune"))
    .description("delete certificates, JWT-SVID records and join tokens that expired before the retention period")
    .option("--retention <duration>", "keep expired records this long", formatDuration(DEFAULT_RETENTION_MS))
    .option("--json", "print the counts as JSON")
    .addHelpText("after", "\nThe server also prunes on its own once an hour (serve --retention).")
    .action(async (opts: GlobalOptions & { retention: string; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const counts = await prune({ store, clock: systemClock }, parseDuration(opts.retention), operator());
        if (opts.json) return printJson(counts);
        process.stdout.write(
          `pruned ${counts.certificates} certificates, ${counts.jwtSvids} JWT-SVID records, ${counts.joinTokens} join tokens\n`,
        );
      });
    });
}
