import type { Command } from "commander";
import { isKeyType, KEY_TYPES } from "../../src/crypto/key-types.js";
import { dataFiles } from "../../src/data-dir.js";
import { TesseraError } from "../../src/errors.js";
import { dataDirOf, type GlobalOptions, localBundle, withDataDir } from "../context.js";

/**
 * Where the agent's trust in the CA comes from: the pinned fingerprint or
 * bundle file it was given, else the bundle in a Tessera data directory on
 * this machine (the CA's own, or one an operator put there); never nothing.
 */
function trustSource(opts: GlobalOptions & { bundleFingerprint?: string; bundle?: string }): {
  fingerprint?: string;
  bundleFile?: string;
} {
  if (opts.bundleFingerprint && opts.bundle) {
    throw new TesseraError("invalid_argument", "give one of --bundle-fingerprint or --bundle, not both");
  }
  if (opts.bundleFingerprint || opts.bundle) return { fingerprint: opts.bundleFingerprint, bundleFile: opts.bundle };
  const local = localBundle(opts);
  if (!local) {
    throw new TesseraError(
      "invalid_argument",
      `give --bundle-fingerprint or --bundle (there is no ${dataFiles(dataDirOf(opts)).bundle} to fall back on): the agent never trusts the CA blindly`,
    );
  }
  process.stderr.write(`${new Date().toISOString()} tessera-agent: trusting the roots in ${local}\n`);
  return { bundleFile: local };
}

export function registerAgent(program: Command): void {
  withDataDir(program.command("agent"))
    .description("the workload side: obtain an identity at boot, write it to a directory, keep it renewed")
    .requiredOption("--server <url>", "Tessera's API, e.g. https://127.0.0.1:8443")
    .option("--join-token <token>", "one-time join token (env TESSERA_JOIN_TOKEN)")
    .option("--jwt-file <file>", "file holding a JWT from a trusted issuer, e.g. a projected service-account token")
    .requiredOption("--out-dir <dir>", "where to write svid.pem, svid.key, bundle.pem and identity.pem")
    .option("--bundle-fingerprint <sha256:hex>", "trust the CA whose root has this fingerprint (printed by serve/init)")
    .option("--bundle <file>", "trust the roots in this PEM file (default: the data directory's bundle.pem, if there is one)")
    .option("--key-type <type>", `workload key type: ${KEY_TYPES.filter((k) => !k.startsWith("rsa-3")).join(", ")}`, "ec-p256")
    .option("--once", "obtain the identity, write it and exit")
    .option("--exec <command>", "shell command to run after every change of the files")
    .addHelpText(
      "after",
      "\nThe agent renews over mutual TLS at half the certificate's life, refreshes the bundle, retries with\njittered exponential backoff while the CA is unreachable, and exits cleanly on SIGTERM.",
    )
    .action(
      async (
        opts: GlobalOptions & {
          server: string;
          joinToken?: string;
          jwtFile?: string;
          outDir: string;
          bundleFingerprint?: string;
          bundle?: string;
          keyType: string;
          once?: boolean;
          exec?: string;
        },
      ) => {
        const joinToken = opts.joinToken ?? process.env.TESSERA_JOIN_TOKEN;
        if (!joinToken === !opts.jwtFile)
          throw new TesseraError("invalid_argument", "give exactly one of --join-token or --jwt-file");
        const trust = trustSource(opts);
        if (!isKeyType(opts.keyType)) throw new TesseraError("invalid_argument", `unknown key type ${opts.keyType}`);
        const [{ Agent, AgentFatalError }, { bootstrapBundle }] = await Promise.all([
          import("../../src/agent/agent.js"),
          import("../../src/agent/bootstrap-trust.js"),
        ]);
        let bundlePem: string;
        try {
          bundlePem = await bootstrapBundle(opts.server, trust);
        } catch (e) {
          if (e instanceof TesseraError) throw e;
          throw new TesseraError("unavailable", `cannot reach ${opts.server} to establish trust: ${(e as Error).message}`);
        }
        const agent = new Agent({
          serverUrl: opts.server,
          joinToken,
          jwtFile: opts.jwtFile,
          outDir: opts.outDir,
          bundlePem,
          keyType: opts.keyType,
          exec: opts.exec,
        });
        const stop = () => agent.stop();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
        try {
          await agent.run({ once: opts.once });
        } catch (e) {
          if (e instanceof AgentFatalError) throw new TesseraError("attestation_failed", e.message);
          throw e;
        }
        process.stderr.write(`${new Date().toISOString()} tessera-agent: stopped\n`);
      },
    );
}
