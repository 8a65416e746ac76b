import { TesseraError } from "../errors.js";
import type { Store } from "../store/store.js";
import type { Attestation } from "./attestor.js";
import type { PeerIdentity } from "./x509-peer.js";

/**
 * Renewal: a workload holding a valid X.509-SVID gets a fresh one for the
 * same identity. If the certificate was issued under a registration entry,
 * that entry must still exist (deleting it stops renewals), and its current
 * DNS names and TTLs apply.
 */
export async function renewalIdentity(store: Store, peer: PeerIdentity): Promise<Attestation> {
  if (peer.attestation === "server") {
    throw new TesseraError("forbidden", "the CA's own certificate cannot be renewed by a client");
  }
  if (!peer.entryId) {
    return { method: "x509_renewal", spiffeId: peer.spiffeId, selectors: [], dnsNames: [] };
  }
  const entry = await store.getEntry(peer.entryId);
  if (!entry) throw new TesseraError("forbidden", `the registration entry for ${peer.spiffeId} was deleted`);
  return {
    method: "x509_renewal",
    spiffeId: entry.spiffeId,
    selectors: entry.selectors,
    dnsNames: entry.dnsNames,
    x509TtlMs: entry.x509TtlMs ?? undefined,
    jwtTtlMs: entry.jwtTtlMs ?? undefined,
    entryId: entry.id,
  };
}
