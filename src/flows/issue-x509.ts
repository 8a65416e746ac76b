import type { Attestor } from "../attest/attestor.js";
import { type CallerProof, identifyCaller } from "../attest/caller.js";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { ensureRecorded, type Store } from "../store/store.js";
import { newSerial } from "../x509/certificate.js";
import { pemEncode } from "../x509/pem.js";
import { BACKDATE_MS } from "../x509/profile.js";

export interface IssueX509Deps {
  store: Store;
  ca: CaManager;
  clock: Clock;
  attestors: ReadonlyMap<string, Attestor>;
  /** Base of the per-issuer CRL URLs named in each certificate. */
  crlBaseUrl: string;
  defaultTtlMs: number;
}

export interface IssueX509Request extends CallerProof {
  csr: unknown;
}

export interface X509Svid {
  spiffeId: string;
  serial: string;
  certificatePem: string;
  chainPem: string;
  bundlePem: string;
  expiresAt: Date;
}

/**
 * A workload gets an X.509-SVID: attest, check the CSR and sign, record, respond.
 * The identity comes from attestation alone; nothing in the CSR but its
 * public key reaches the certificate.
 */
export async function issueX509Svid(deps: IssueX509Deps, req: IssueX509Request): Promise<X509Svid> {
  if (typeof req.csr !== "string") throw new TesseraError("bad_request", "csr must be a PEM string");

  // 1. attest: the evidence names the identity (a client certificate: renewal)
  const identity = await identifyCaller(deps, req, "x509_renewal");

  // 2. sign, once the CSR proves possession of its key (one trip off the
  // event loop for both): validity back-dated for skew, never past the issuing CA
  const issuer = deps.ca.activeIntermediate();
  const now = deps.clock.now().getTime();
  const notBefore = Math.floor((now - BACKDATE_MS) / 1000) * 1000;
  const notAfter = Math.min(Math.floor((now + (identity.x509TtlMs ?? deps.defaultTtlMs)) / 1000) * 1000, issuer.record.notAfter);
  if (notAfter <= now) throw new TesseraError("unavailable", "the issuing CA has expired");
  const serial = newSerial();
  const der = await deps.ca.leafIssuer(issuer.record.id, deps.crlBaseUrl).issueForCsr(req.csr, {
    spiffeId: identity.spiffeId,
    dnsNames: identity.dnsNames,
    serial,
    notBefore,
    notAfter,
  });

  // 3. record: durably, and consume a join token in the same transaction
  const serialHex = serial.toString("hex");
  const outcome = await deps.store.recordCertificate(
    {
      serial: serialHex,
      spiffeId: identity.spiffeId,
      issuerId: issuer.record.id,
      notBefore,
      notAfter,
      der,
      attestation: identity.method,
      issuedAt: now,
      revokedAt: null,
      revocationReason: null,
      entryId: identity.entryId ?? null,
    },
    {
      actor: `workload:${identity.method}`,
      action: "svid.x509.issue",
      subject: identity.spiffeId,
      details: { serial: serialHex, issuer: issuer.record.id, not_after: new Date(notAfter).toISOString() },
    },
    identity.joinTokenHash ? { hash: identity.joinTokenHash, now } : undefined,
  );
  ensureRecorded(outcome);

  // 4. respond
  const certificatePem = pemEncode(der, "CERTIFICATE");
  return {
    spiffeId: identity.spiffeId,
    serial: serialHex,
    certificatePem,
    chainPem: certificatePem + deps.ca.intermediatePem(issuer.record.id),
    bundlePem: deps.ca.bundlePem(),
    expiresAt: new Date(notAfter),
  };
}
