import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { parseDuration } from "../../src/duration.js";
import { createJoinToken } from "../../src/flows/create-join-token.js";
import { type GlobalOptions, operator, printJson, withDataDir, withStore } from "../context.js";

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerToken(program: Command): void {
  const token = program.command("token").description("manage one-time join tokens");
  withDataDir(token.command("create"))
    .description("create a one-time join token for a SPIFFE ID (printed once, stored only as a hash)")
    .requiredOption("--spiffe-id <id>", "identity the token grants")
    .option("--ttl <duration>", "how long the token stays usable", "1h")
    .option("--selector <type:value>", "selector the token attests (repeatable)", collect, [])
    .option("--json", "print the result as JSON")
    .action(async (opts: GlobalOptions & { spiffeId: string; ttl: string; selector: string[]; json?: boolean }) => {
      await withStore(opts, async (store) => {
        const settings = await store.getSettings();
        const result = await createJoinToken(
          { store, clock: systemClock, trustDomain: settings.trust_domain ?? "" },
          { spiffeId: opts.spiffeId, ttlMs: parseDuration(opts.ttl), selectors: opts.selector, actor: operator() },
        );
        if (opts.json) printJson({ token: result.token, spiffe_id: result.spiffeId, expires_at: result.expiresAt.toISOString() });
        else process.stdout.write(`${result.token}\n`);
      });
    });
}
