import { Command, CommanderError } from "commander";
import { isTesseraError } from "../src/errors.js";
import { registerAgent } from "./commands/agent.js";
import { registerAudit } from "./commands/audit.js";
import { registerBackup } from "./commands/backup.js";
import { registerBundle, registerCa, registerCrl } from "./commands/ca.js";
import { registerCert, registerRevoke } from "./commands/cert.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerEntry } from "./commands/entry.js";
import { registerInit } from "./commands/init.js";
import { registerPrune } from "./commands/prune.js";
import { registerRotate } from "./commands/rotate.js";
import { registerServe } from "./commands/serve.js";
import { registerToken } from "./commands/token.js";
import { registerVerify } from "./commands/verify.js";

const program = new Command("tessera")
  .description("Tessera: an internal certificate authority and SPIFFE workload identity issuer")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

for (const register of [
  registerInit,
  registerServe,
  registerEntry,
  registerToken,
  registerCert,
  registerRevoke,
  registerCrl,
  registerBundle,
  registerCa,
  registerRotate,
  registerPrune,
  registerAudit,
  registerBackup,
  registerDoctor,
  registerAgent,
  registerVerify,
]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  const message = isTesseraError(e) ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`tessera: ${message}\n`);
  process.exit(1);
}
