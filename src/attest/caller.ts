import { TesseraError } from "../errors.js";
import type { Store } from "../store/store.js";
import { attest } from "./attest.js";
import type { Attestation, Attestor } from "./attestor.js";
import type { PeerIdentity } from "./x509-peer.js";
import { renewalIdentity } from "./x509-renewal.js";

/** What a caller of an issuance endpoint offers as proof of who it is. */
export interface CallerProof {
  /** Evidence in the request body; when present it alone decides. */
  attestation?: unknown;
  /** The identity wanted, among those the evidence qualifies for. */
  spiffeId?: unknown;
  /** The X.509-SVID presented over mutual TLS: looked up only when there is no evidence. */
  peer?: PeerIdentity | (() => Promise<PeerIdentity | undefined>);
}

/**
 * The one rule every issuance path follows: evidence in the body if any, else
 * the caller's own X.509-SVID (whose entry must still exist), else 401.
 * `peerMethod` names the second case in records and the audit log.
 */
export async function identifyCaller(
  deps: { store: Store; attestors: ReadonlyMap<string, Attestor> },
  proof: CallerProof,
  peerMethod: string,
): Promise<Attestation> {
  if (proof.attestation !== undefined) return attest(deps.attestors, deps.store, proof.attestation, proof.spiffeId);
  const peer = typeof proof.peer === "function" ? await proof.peer() : proof.peer;
  if (!peer) throw new TesseraError("unauthenticated", "present an attestation or a client certificate (X.509-SVID)");
  return { ...(await renewalIdentity(deps.store, peer)), method: peerMethod };
}
