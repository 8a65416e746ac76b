import { TesseraError } from "../errors.js";
import { chooseEntry } from "../identity/entries.js";
import { parseSpiffeId } from "../identity/spiffe-id.js";
import type { EntryRecord, Store } from "../store/store.js";
import type { Attestation, Attestor, Evidence } from "./attestor.js";

function fromEntry(evidence: Evidence, entry: EntryRecord | undefined, spiffeId: string): Attestation {
  return {
    method: evidence.method,
    spiffeId,
    selectors: evidence.selectors,
    dnsNames: entry?.dnsNames ?? [],
    x509TtlMs: entry?.x509TtlMs ?? undefined,
    jwtTtlMs: entry?.jwtTtlMs ?? undefined,
    joinTokenHash: evidence.joinTokenHash,
    entryId: entry?.id,
  };
}

/**
 * Turns evidence into an identity. Evidence that names its identity (a join
 * token) gets it, with the settings of a matching entry for that ID if any.
 * Otherwise the attested selectors must satisfy an entry (see chooseEntry);
 * no matching entry is a 403.
 */
export async function resolveIdentity(store: Store, evidence: Evidence, wanted?: string): Promise<Attestation> {
  if (evidence.spiffeId !== undefined) {
    if (wanted !== undefined && wanted !== evidence.spiffeId) {
      throw new TesseraError("forbidden", `this attestation grants ${evidence.spiffeId}, not ${wanted}`);
    }
    const entries = await store.listEntries({ spiffeId: evidence.spiffeId });
    return fromEntry(evidence, chooseEntry(entries, evidence.selectors), evidence.spiffeId);
  }
  const entry = chooseEntry(await store.listEntries(), evidence.selectors, wanted);
  if (!entry) {
    throw new TesseraError("forbidden", `no registration entry matches the attested selectors${wanted ? ` for ${wanted}` : ""}`);
  }
  return fromEntry(evidence, entry, entry.spiffeId);
}

/** Runs the attestor named by the evidence's `type`, then resolves the identity. */
export async function attest(
  attestors: ReadonlyMap<string, Attestor>,
  store: Store,
  evidence: unknown,
  wantedSpiffeId?: unknown,
): Promise<Attestation> {
  if (typeof evidence !== "object" || evidence === null || Array.isArray(evidence)) {
    throw new TesseraError("bad_request", "attestation must be an object with a type");
  }
  let wanted: string | undefined;
  if (wantedSpiffeId !== undefined) {
    if (typeof wantedSpiffeId !== "string") throw new TesseraError("bad_request", "spiffe_id must be a string");
    wanted = parseSpiffeId(wantedSpiffeId).toString();
  }
  const { type } = evidence as Record<string, unknown>;
  const attestor = typeof type === "string" ? attestors.get(type) : undefined;
  if (!attestor) {
    throw new TesseraError("bad_request", `attestation type must be one of: ${[...attestors.keys()].join(", ")}`);
  }
  return resolveIdentity(store, await attestor.attest(evidence as Record<string, unknown>), wanted);
}
