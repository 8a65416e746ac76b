import { X509Certificate } from "node:crypto";
import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import { type GlobalOptions, iso, printJson, printTable, withCa, withDataDir } from "../context.js";

export function registerCa(program: Command): void {
  const ca = program.command("ca").description("inspect the CA keys");
  withDataDir(ca.command("status"))
    .description("show every CA key: kind, state, validity, fingerprint or kid (a retired key past its validity is erased)")
    .option("--json", "print as JSON")
    .action(async (opts: GlobalOptions & { json?: boolean }) => {
      await withCa(opts, async ({ ca: manager }) => {
        const keys = manager.records().map((r) => ({
          id: r.id,
          kind: r.kind,
          state: r.state,
          key_type: r.keyType,
          not_before: iso(r.notBefore),
          not_after: iso(r.notAfter),
          fingerprint: r.certificateDer
            ? `sha256:${new X509Certificate(r.certificateDer).fingerprint256.replace(/:/g, "").toLowerCase()}`
            : null,
          kid: r.kind === "jwt" ? r.id : null,
          parent: r.parentId,
          activated_at: r.activatedAt === null ? null : iso(r.activatedAt),
          retired_at: r.retiredAt === null ? null : iso(r.retiredAt),
          // a retired key past its validity: its private key was erased
          destroyed_at: r.destroyedAt === null ? null : iso(r.destroyedAt),
        }));
        if (opts.json) return printJson({ trust_domain: manager.trustDomain, keys });
        process.stdout.write(`trust domain ${manager.trustDomain}\n`);
        printTable(
          ["ID", "KIND", "STATE", "KEY", "NOT BEFORE", "NOT AFTER", "FINGERPRINT / KID"],
          keys.map((k) => [
            k.id,
            k.kind,
            k.destroyed_at ? `${k.state} (erased)` : k.state,
            k.key_type,
            k.not_before,
            k.not_after,
            k.fingerprint ?? k.kid ?? "",
          ]),
        );
      });
    });
}

export function registerCrl(program: Command): void {
  withDataDir(program.command("crl"))
    .description("print the current CRL of the active issuing CA: DER, to a file or pipe (not a terminal), unless --pem")
    .option("--pem", "print as PEM")
    .option("--all", "with --pem: the CRLs of every published issuing CA")
    .action(async (opts: GlobalOptions & { pem?: boolean; all?: boolean }) => {
      if (opts.all && !opts.pem) throw new TesseraError("invalid_argument", "--all needs --pem (DER holds one CRL)");
      // like curl, keep binary output off a terminal, where it would only garble the screen
      if (!opts.pem && process.stdout.isTTY) {
        throw new TesseraError(
          "invalid_argument",
          "the CRL is DER (binary): redirect it to a file (tessera crl > ca.crl) or use --pem",
        );
      }
      await withCa(opts, async ({ store, ca }) => {
        const { CrlService } = await import("../../src/crl/crl-service.js");
        const crl = new CrlService(store, ca, systemClock);
        await crl.refresh();
        if (opts.pem && opts.all)
          return void process.stdout.write(
            crl
              .all()
              .map((c) => c.pem)
              .join(""),
          );
        const current = crl.get();
        if (!current) throw new Error("no CRL");
        process.stdout.write(opts.pem ? current.pem : current.der);
      });
    });
}

export function registerBundle(program: Command): void {
  withDataDir(program.command("bundle"))
    .description("print the trust bundle: PEM roots, or the SPIFFE bundle (JWKS of X.509 and JWT authorities)")
    .option("--format <format>", "pem or spiffe", "pem")
    .action(async (opts: GlobalOptions & { format: string }) => {
      if (opts.format !== "pem" && opts.format !== "spiffe") {
        throw new TesseraError("invalid_argument", "--format must be pem or spiffe");
      }
      await withCa(opts, async ({ ca }) => {
        if (opts.format === "spiffe") {
          const { spiffeBundle } = await import("../../src/ca/spiffe-bundle.js");
          return printJson(await spiffeBundle(ca));
        }
        process.stdout.write(ca.bundlePem());
      });
    });
}
