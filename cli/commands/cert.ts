import { X509Certificate } from "node:crypto";
import type { Command } from "commander";
import { systemClock } from "../../src/clock.js";
import { reasonName } from "../../src/crl/build-crl.js";
import { TesseraError } from "../../src/errors.js";
import { normalizeSerial, revoke } from "../../src/flows/revoke.js";
import type { CertificateRecord } from "../../src/store/store.js";
import { pemEncode } from "../../src/x509/pem.js";
import {
  type GlobalOptions,
  iso,
  type ListFilterOptions,
  listFilter,
  operator,
  printJson,
  printTable,
  withDataDir,
  withListFilters,
  withStore,
} from "../context.js";

const STATUSES = ["active", "expired", "revoked"] as const;

function statusOf(c: CertificateRecord, now: number): string {
  if (c.revokedAt !== null) return "revoked";
  return c.notAfter <= now ? "expired" : "active";
}

function toJson(c: CertificateRecord, now: number) {
  return {
    serial: c.serial,
    spiffe_id: c.spiffeId,
    status: statusOf(c, now),
    issuer: c.issuerId,
    not_before: iso(c.notBefore),
    not_after: iso(c.notAfter),
    issued_at: iso(c.issuedAt),
    attestation: c.attestation,
    revoked_at: c.revokedAt === null ? null : iso(c.revokedAt),
    revocation_reason: c.revocationReason === null ? null : reasonName(c.revocationReason),
  };
}

export function registerCert(program: Command): void {
  const cert = program.command("cert").description("inspect issued certificates");
  withListFilters(withDataDir(cert.command("list")), STATUSES)
    .description("list issued certificates, newest first")
    .action(async (opts: ListFilterOptions) => {
      const filter = listFilter(opts, STATUSES);
      await withStore(opts, async (store) => {
        const now = systemClock.now().getTime();
        const certs = await store.listCertificates({ ...filter, now });
        if (opts.json) return printJson(certs.map((c) => toJson(c, now)));
        printTable(
          ["SERIAL", "SPIFFE ID", "STATUS", "NOT AFTER"],
          certs.map((c) => [c.serial, c.spiffeId, statusOf(c, now), iso(c.notAfter)]),
        );
      });
    });

  withDataDir(cert.command("show"))
    .description("show one certificate")
    .argument("<serial>", "serial number (hex, colons allowed)")
    .option("--json", "print as JSON")
    .option("--pem", "print the certificate as PEM")
    .action(async (serialText: string, opts: GlobalOptions & { json?: boolean; pem?: boolean }) => {
      await withStore(opts, async (store) => {
        const serial = normalizeSerial(serialText);
        const c = await store.getCertificate(serial);
        if (!c) throw new TesseraError("not_found", `no certificate with serial ${serial}`);
        const now = systemClock.now().getTime();
        const pem = pemEncode(c.der, "CERTIFICATE");
        if (opts.pem) return void process.stdout.write(pem);
        const x = new X509Certificate(c.der);
        const info = { ...toJson(c, now), subject_alt_names: x.subjectAltName ?? "", fingerprint_sha256: x.fingerprint256, pem };
        if (opts.json) return printJson(info);
        for (const [k, v] of Object.entries(info)) if (k !== "pem") process.stdout.write(`${k.padEnd(20)} ${v ?? ""}\n`);
      });
    });
}

export function registerRevoke(program: Command): void {
  withDataDir(program.command("revoke"))
    .description("revoke one certificate, or every unexpired certificate of an identity")
    .argument("[serial]", "serial number of the certificate")
    .option("--spiffe-id <id>", "revoke every unexpired certificate of this identity")
    .option("--reason <reason>", "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, …")
    .option("--json", "print what was revoked as JSON")
    .action(async (serial: string | undefined, opts: GlobalOptions & { spiffeId?: string; reason?: string; json?: boolean }) => {
      if (!serial === !opts.spiffeId) throw new TesseraError("invalid_argument", "give either a SERIAL or --spiffe-id");
      await withStore(opts, async (store) => {
        const target = serial ? { serial } : { spiffeId: opts.spiffeId as string };
        const revoked = await revoke({ store, clock: systemClock }, target, opts.reason, operator());
        if (opts.json) return printJson(revoked.map((c) => ({ serial: c.serial, spiffe_id: c.spiffeId })));
        if (revoked.length === 0) process.stdout.write("nothing to revoke\n");
        for (const c of revoked) process.stdout.write(`revoked ${c.serial} ${c.spiffeId}\n`);
      });
    });
}
