import type { Command } from "commander";
import { DEFAULT_LISTEN, makeServeConfig, parseDnsName, parseListen, parsePublicUrl, parseRateLimit } from "../../src/config.js";
import { parseDuration } from "../../src/duration.js";
import { parseTrustDomain } from "../../src/identity/spiffe-id.js";
import { startTessera } from "../../src/main.js";
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
          rateLimit: opts.rateLimit === undefined ? undefined : parseRateLimit(opts.rateLimit),
        });
        const running = await startTessera(config);
        process.stderr.write(
          `Tessera is serving trust domain ${running.trustDomain}\n  API          ${running.apiUrl}\n  CRL          ${running.crlUrl}\n  bundle       ${running.bundlePath}\n  fingerprint  ${running.bundleFingerprint}\n`,
        );
        const stop = async () => {
          await running.close();
          process.exit(0);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      },
    );
}
