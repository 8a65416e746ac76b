import type { Command } from "commander";
import { TesseraError } from "../../src/errors.js";
import type { CaKeyKind } from "../../src/store/store.js";
import { type GlobalOptions, iso, operator, printJson, withCa, withDataDir } from "../context.js";

export function registerRotate(program: Command): void {
  const rotate = program
    .command("rotate")
    .description("prepare (publish) a successor key now; --now also makes it sign at once (emergency)")
    .addHelpText(
      "after",
      "\nKeys also rotate on their own: a successor is prepared at 1/2 of the active key's life and activated at 5/6.\nA retired key stays published until it expires, so everything it signed keeps verifying.",
    );

  const action =
    (kindOf: (opts: { root?: boolean }) => CaKeyKind) =>
    async (opts: GlobalOptions & { now?: boolean; root?: boolean; json?: boolean }) => {
      const kind = kindOf(opts);
      await withCa(opts, async ({ lifecycle }) => {
        const key = opts.now ? await lifecycle.rotateNow(kind, operator()) : await lifecycle.prepare(kind, operator());
        const state = opts.now ? "active" : "prepared";
        if (opts.json) return printJson({ id: key.id, kind, state, not_after: iso(key.notAfter) });
        process.stdout.write(
          `${kind} ${key.id} is ${state}${opts.now ? "" : " (published; it signs from 5/6 of the active key's life, or with --now)"}\n`,
        );
      });
    };

  withDataDir(rotate.command("x509"))
    .description("rotate the intermediate issuing CA, or with --root the root")
    .option("--now", "activate the successor immediately")
    .option("--root", "rotate the root: the new root is published in the bundle; with --now it signs a new intermediate at once")
    .option("--json", "print the new key as JSON")
    .action(action((opts) => (opts.root ? "x509_root" : "x509_intermediate")));

  withDataDir(rotate.command("jwt"))
    .description("rotate the JWT signing key")
    .option("--now", "activate the successor immediately")
    .option("--json", "print the new key as JSON")
    .action(
      action((opts) => {
        if (opts.root) throw new TesseraError("invalid_argument", "--root applies to x509 only");
        return "jwt";
      }),
    );
}
