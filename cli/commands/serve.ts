import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { DEFAULT_LISTEN, makeServeConfig, parseDnsName, parseListen, parsePublicUrl, parseRateLimit } from "../../src/config.js";
import { parseDuration } from "../../src/duration.js";
import { TesseraError } from "../../src/errors.js";
import { parseTrustDomain } from "../../src/identity/spiffe-id.js";
import { dataDirOf, type GlobalOptions, withDataDir } from "../context.js";

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerServe(program: Command): void {
  withDataDir(program.command("serve"))
    .description("run the CA service (initialises the data directory on first start)")
    .option("--listen <host:port>", "HTTPS API address", DEFAULT_LISTEN)
    .option("--http-listen <host:port>", "plain-HTTP address for the public CRL")
    .option("--dns-name <name>", "extra DNS name for the server certificate (repeatable)", collect, [])
    .option("--trust-domain <td>", "trust domain if the data directory must be initialised", "example.org")
    .option("--x509-ttl <duration>", "default X.509-SVID lifetime", "1h")
    .option("--jwt-ttl <duration>", "default JWT-SVID lifetime", "5m")
    .option("--config <file>", "server configuration (trusted JWT issuers, rate limit); default <data-dir>/config.json")
    .option(
      "--rate-limit <rate:burst|off>",
      "per-client limit on attestation endpoints, e.g. 50:100 (default from config, else 50:100)",
    )
    .option("--retention <duration>", "prune records that expired longer ago than this (hourly)", "7d")
    .option("--workers <n>", "processes serving requests (default: number of cores)", String(availableParallelism()))
    .option("--public-url <url>", "public base URL of the API: JWT issuer and OIDC discovery (default: the listen address)")
    .action(
      async (
        opts: GlobalOptions & {
          listen: string;
          httpListen?: string;
          dnsName: string[];
          trustDomain: string;
          x509Ttl: string;
          jwtTtl: string;
          publicUrl?: string;
          config?: string;
          rateLimit?: string;
          workers: string;
          retention: string;
        },
      ) => {
        const config = makeServeConfig({
          dataDir: dataDirOf(opts),
          listen: parseListen(opts.listen),
          httpListen: opts.httpListen ? parseListen(opts.httpListen) : undefined,
          dnsNames: opts.dnsName.map(parseDnsName),
          defaultTrustDomain: parseTrustDomain(opts.trustDomain),
          autoInit: true,
          x509DefaultTtlMs: parseDuration(opts.x509Ttl),
          jwtDefaultTtlMs: parseDuration(opts.jwtTtl),
          publicUrl: opts.publicUrl ? parsePublicUrl(opts.publicUrl) : undefined,
          configFile: opts.config,
          retentionMs: parseDuration(opts.retention),
          rateLimit: opts.rateLimit === undefined ? undefined : parseRateLimit(opts.rateLimit),
        });
        const workers = Number(opts.workers);
        if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
          throw new TesseraError("invalid_argument", "--workers must be an integer from 1 to 64");
        }
        const [{ serveClustered }, { createLogger }] = await Promise.all([
          import("../../src/cluster.js"),
          import("../../src/log.js"),
        ]);
        const clustered = await serveClustered(config, workers, createLogger());
        if (!clustered) return; // this process is a worker
        const { info, stop: stopAll } = clustered;
        // handlers first: a signal right after the banner must stop the server cleanly
        const stop = async () => {
          await stopAll();
          process.exit(0);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        process.stderr.write(
          `Tessera is serving trust domain ${info.trustDomain}${workers > 1 ? ` with ${workers} workers` : ""}\n  API          ${info.apiUrl}\n  CRL          ${info.crlUrl}\n  bundle       ${info.bundlePath}\n  fingerprint  ${info.bundleFingerprint}\n`,
        );
      },
    );
}
