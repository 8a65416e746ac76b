import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { certificateFingerprint } from "../../src/ca/ca-keys.js";
import { DEFAULT_INIT, initializeCa } from "../../src/ca/init-ca.js";
import { systemClock } from "../../src/clock.js";
import { isKeyType, KEY_TYPES } from "../../src/crypto/key-types.js";
import { dataFiles } from "../../src/data-dir.js";
import { formatDuration, parseDuration } from "../../src/duration.js";
import { TesseraError } from "../../src/errors.js";
import { pemEncode } from "../../src/x509/pem.js";
import { dataDirOf, type GlobalOptions, printJson, withDataDir } from "../context.js";

export function registerInit(program: Command): void {
  withDataDir(program.command("init"))
    .description("create the data directory, database, root CA, first intermediate and first JWT key")
    .requiredOption("--trust-domain <td>", "SPIFFE trust domain, e.g. example.org")
    .option("--key-type <type>", `CA key type: ${KEY_TYPES.join(", ")}`, DEFAULT_INIT.keyType)
    .option("--root-ttl <duration>", "root certificate lifetime", formatDuration(DEFAULT_INIT.rootTtlMs))
    .option("--ca-ttl <duration>", "intermediate (issuing CA) lifetime", formatDuration(DEFAULT_INIT.caTtlMs))
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      "\nThe CA keys are encrypted with TESSERA_PASSPHRASE if set, else with a new key file (mode 0600) in the data directory.",
    )
    .action(
      async (opts: GlobalOptions & { trustDomain: string; keyType: string; rootTtl: string; caTtl: string; json?: boolean }) => {
        if (!isKeyType(opts.keyType)) {
          throw new TesseraError("invalid_argument", `unknown key type "${opts.keyType}"; use one of ${KEY_TYPES.join(", ")}`);
        }
        const dir = dataDirOf(opts);
        const result = await initializeCa(
          dir,
          {
            ...DEFAULT_INIT,
            trustDomain: opts.trustDomain,
            keyType: opts.keyType,
            rootTtlMs: parseDuration(opts.rootTtl),
            caTtlMs: parseDuration(opts.caTtl),
          },
          process.env,
          systemClock,
        );
        const bundle = dataFiles(dir).bundle;
        writeFileSync(bundle, pemEncode(result.rootCertificate, "CERTIFICATE"));
        const fingerprint = certificateFingerprint(result.rootCertificate);
        if (opts.json) {
          printJson({
            data_dir: dir,
            trust_domain: opts.trustDomain,
            bundle,
            bundle_fingerprint: fingerprint,
            root_id: result.rootId,
            intermediate_id: result.intermediateId,
            jwt_key_id: result.jwtKeyId,
          });
          return;
        }
        process.stdout.write(
          `Initialised trust domain ${opts.trustDomain} in ${dir}\n  root        ${result.rootId}\n  issuing CA  ${result.intermediateId}\n  JWT key     ${result.jwtKeyId}\n  bundle      ${bundle}\n  fingerprint ${fingerprint}\n`,
        );
      },
    );
}
