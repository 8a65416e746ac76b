import type { Command } from "commander";
import { isKeyType, KEY_TYPES } from "../../src/crypto/key-types.js";
import { TesseraError } from "../../src/errors.js";

export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("the workload side: obtain an identity at boot, write it to a directory, keep it renewed")
    .requiredOption("--server <url>", "Tessera's API, e.g. https://127.0.0.1:8443")
    .option("--join-token <token>", "one-time join token (env TESSERA_JOIN_TOKEN)")
    .option("--jwt-file <file>", "file holding a JWT from a trusted issuer, e.g. a projected service-account token")
    .requiredOption("--out-dir <dir>", "where to write svid.pem, svid.key, bundle.pem and identity.pem")
    .option("--bundle-fingerprint <sha256:hex>", "trust the CA whose root has this fingerprint (printed by serve/init)")
    .option("--bundle <file>", "trust the roots in this PEM file")
    .option("--key-type <type>", `workload key type: ${KEY_TYPES.filter((k) => !k.startsWith("rsa-3")).join(", ")}`, "ec-p256")
    .option("--once", "obtain the identity, write it and exit")
    .option("--exec <command>", "shell command to run after every change of the files")
    .addHelpText(
      "after",
      "\nThe agent renews over mutual TLS at half the certificate's life, refreshes the bundle, retries with\njittered exponential backoff while the CA is unreachable, and exits cleanly on SIGTERM.",
    )
    .action(
      async (opts: {
        server: string;
        joinToken?: string;
        jwtFile?: string;
        outDir: string;
        bundleFingerprint?: string;
        bundle?: string;
        keyType: string;
        once?: boolean;
        exec?: string;
      }) => {
        const joinToken = opts.joinToken ?? process.env.TESSERA_JOIN_TOKEN;
        if (!joinToken === !opts.jwtFile)
          throw new TesseraError("invalid_argument", "give exactly one of --join-token or --jwt-file");
        if (!opts.bundleFingerprint === !opts.bundle) {
          throw new TesseraError(
            "invalid_argument",
            "give exactly one of --bundle-fingerprint or --bundle: the agent never trusts the CA blindly",
          );
        }
        if (!isKeyType(opts.keyType)) throw new TesseraError("invalid_argument", `unknown key type ${opts.keyType}`);
        const [{ Agent, AgentFatalError }, { bootstrapBundle }] = await Promise.all([
          import("../../src/agent/agent.js"),
          import("../../src/agent/bootstrap-trust.js"),
        ]);
        let bundlePem: string;
        try {
          bundlePem = await bootstrapBundle(opts.server, { bundleFile: opts.bundle, fingerprint: opts.bundleFingerprint });
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
