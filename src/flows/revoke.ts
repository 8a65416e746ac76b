import type { Clock } from "../clock.js";
import { REVOCATION_REASONS, type RevocationReason } from "../crl/build-crl.js";
import { TesseraError } from "../errors.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import type { CertificateRecord, Store } from "../store/store.js";

export function parseReason(name: string | undefined): number {
  if (name === undefined) return REVOCATION_REASONS.unspecified;
  if (!(name in REVOCATION_REASONS) || name === "removeFromCRL") {
    const names = Object.keys(REVOCATION_REASONS).filter((n) => n !== "removeFromCRL");
    throw new TesseraError("invalid_argument", `unknown revocation reason "${name}"; use one of ${names.join(", ")}`);
  }
  return REVOCATION_REASONS[name as RevocationReason];
}

/** Normalises a serial as printed by openssl or Tessera (colons, case, leading zeros) to Tessera's hex form. */
export function normalizeSerial(text: string): string {
  const hex = text
    .replace(/:/g, "")
    .toLowerCase()
    .replace(/^0+(?=.)/, "");
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw new TesseraError("invalid_argument", `"${text.slice(0, 60)}" is not a serial number`);
  return hex.length % 2 ? `0${hex}` : hex;
}

/**
 * Records a revocation. The CRL of each affected issuer becomes stale in the
 * same transaction; the server rebuilds it at once (it watches for this), so
 * a revocation made by any process shows in the served CRL within a second.
 */
export async function revoke(
  deps: { store: Store; clock: Clock },
  target: { serial: string } | { spiffeId: string },
  reasonName: string | undefined,
  actor: string,
): Promise<CertificateRecord[]> {
  const reason = parseReason(reasonName);
  const now = deps.clock.now().getTime();
  if ("serial" in target) {
    const serial = normalizeSerial(target.serial);
    const cert = await deps.store.getCertificate(serial);
    if (!cert) throw new TesseraError("not_found", `no certificate with serial ${serial}`);
    if (cert.revokedAt !== null) throw new TesseraError("conflict", `certificate ${serial} is already revoked`);
    return deps.store.revoke({ serial }, reason, now, {
      actor,
      action: "cert.revoke",
      subject: cert.spiffeId,
      details: { reason: reasonName ?? "unspecified" },
    });
  }
  const spiffeId = parseSpiffeId(target.spiffeId).toString();
  return deps.store.revoke({ spiffeId }, reason, now, {
    actor,
    action: "cert.revoke",
    subject: spiffeId,
    details: { reason: reasonName ?? "unspecified", all_of_identity: true },
  });
}
