import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Command } from "commander";
import { TesseraError } from "../../src/errors.js";
import { pinnedFetch } from "../../src/sdk/pinned-fetch.js";
import { type GlobalOptions, localBundle, printJson, withDataDir } from "../context.js";

function readFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new TesseraError("invalid_argument", `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/**
 * https URLs are fetched trusting `bundle` if given (Tessera's own
 * endpoints); else the system store together with the data directory's
 * bundle, if there is one (a JWKS URL of the CA on this machine); else the
 * system store alone.
 */
function fetcherFor(bundleFile: string | undefined, opts: GlobalOptions = {}) {
  const local = bundleFile ? undefined : localBundle(opts);
  const roots = bundleFile
    ? readFile(bundleFile, "bundle")
    : local
      ? [...rootCertificates, readFile(local, "bundle")].join("\n")
      : undefined;
  const pinned = roots ? pinnedFetch(roots) : undefined;
  return (url: string, init?: { headers?: Record<string, string> }) =>
    pinned && url.startsWith("https:") ? pinned(url, init) : fetch(url, init);
}

export function registerVerify(program: Command): void {
  const verify = program.command("verify").description("check an identity the way a relying service would");

  withDataDir(verify.command("cert"))
    .description("verify an X.509-SVID (leaf first, then intermediates) against a bundle and optionally a CRL")
    .argument("<file>", "PEM certificate chain")
    .option("--bundle <file>", "trusted roots (PEM; default: the data directory's bundle.pem, if there is one)")
    .option("--crl <file|url>", "CRL: a file (DER or PEM, one or several) or an http(s) URL")
    .option("--json", "print the result as JSON")
    .action(async (file: string, opts: GlobalOptions & { bundle?: string; crl?: string; json?: boolean }) => {
      const bundle = opts.bundle ?? localBundle(opts);
      if (!bundle) throw new TesseraError("invalid_argument", "give --bundle: the roots to verify against");
      const { X509SvidVerifier } = await import("../../src/sdk/x509-svid-verifier.js");
      const verifier = new X509SvidVerifier({
        bundlePem: readFile(bundle, "bundle"),
        crl: opts.crl,
        fetch: fetcherFor(bundle),
      });
      const result = await verifier.verify(readFile(file, "certificate"));
      if (opts.json)
        return printJson({
          valid: true,
          spiffe_id: result.spiffeId,
          serial: result.serial,
          not_after: result.notAfter.toISOString(),
        });
      process.stdout.write(`${result.spiffeId}\n`);
    });

  withDataDir(verify.command("jwt"))
    .description("verify a JWT-SVID against a JWKS (file or URL) for an audience")
    .argument("<token>", "the JWT-SVID (or - to read it from stdin)")
    .requiredOption("--jwks <file|url>", "JWKS file, or URL such as https://ca:8443/.well-known/jwks.json")
    .requiredOption("--audience <aud>", "the audience the token must name")
    .option("--issuer <iss>", "require this issuer")
    .option(
      "--bundle <file>",
      "roots to trust for an https JWKS URL served by Tessera (default: the system's roots and the data directory's bundle.pem, if there is one)",
    )
    .option("--json", "print the result as JSON")
    .action(
      async (
        tokenArg: string,
        opts: GlobalOptions & { jwks: string; audience: string; issuer?: string; bundle?: string; json?: boolean },
      ) => {
        const token = tokenArg === "-" ? readFileSync(0, "utf8").trim() : tokenArg;
        const { JwtSvidVerifier } = await import("../../src/sdk/jwt-svid-verifier.js");
        const verifier = new JwtSvidVerifier({
          source: opts.jwks,
          audience: opts.audience,
          issuer: opts.issuer,
          fetch: fetcherFor(opts.bundle, opts),
        });
        const result = await verifier.verify(token).catch((e: unknown) => {
          // the usual first stumble: Tessera's https JWKS URL from a machine that has not got its roots
          if (!opts.bundle && e instanceof TesseraError && /cannot load the JWKS https:.*(certificate|issuer)/.test(e.message)) {
            throw new TesseraError(e.code, `${e.message} (pass --bundle with the CA's bundle.pem, or --data-dir of the CA)`);
          }
          throw e;
        });
        if (opts.json) {
          return printJson({
            valid: true,
            spiffe_id: result.spiffeId,
            audience: result.audience,
            expires_at: result.expiresAt.toISOString(),
            kid: result.kid,
          });
        }
        process.stdout.write(`${result.spiffeId}\n`);
      },
    );
}
