/** What an attestor concluded about a workload. */
export interface Attestation {
  /** Attestation method, recorded with each certificate (e.g. "join_token"). */
  method: string;
  /** The identity granted. */
  spiffeId: string;
  /** Selectors the workload proved (e.g. "k8s:ns:payments"). */
  selectors: string[];
  /** DNS SANs the identity may carry. */
  dnsNames: string[];
  /** TTL overrides for this identity, if any. */
  x509TtlMs?: number;
  jwtTtlMs?: number;
  /** A single-use join token to consume atomically with the issuance. */
  joinTokenHash?: string;
}

/** One way for a workload to prove who it is. */
export interface Attestor {
  readonly type: string;
  attest(evidence: Record<string, unknown>): Promise<Attestation>;
}
