/** What an attestor proved about a workload, before registration entries are consulted. */
export interface Evidence {
  /** Attestation method, recorded with each certificate (e.g. "join_token", "jwt"). */
  method: string;
  /** Selectors the workload proved (e.g. "k8s:ns:payments"). */
  selectors: string[];
  /** Set when the evidence itself names the identity (a join token). */
  spiffeId?: string;
  /** A single-use join token to consume atomically with the issuance. */
  joinTokenHash?: string;
}

/** The identity a workload is granted, with what its entry says about it. */
export interface Attestation {
  method: string;
  spiffeId: string;
  selectors: string[];
  /** DNS SANs the identity may carry (from its entry). */
  dnsNames: string[];
  x509TtlMs?: number;
  jwtTtlMs?: number;
  joinTokenHash?: string;
  entryId?: string;
}

/** One way for a workload to prove who it is. */
export interface Attestor {
  readonly type: string;
  attest(evidence: Record<string, unknown>): Promise<Evidence>;
}
