import { TesseraError } from "../errors.js";
import type { Attestation, Attestor } from "./attestor.js";

/** Resolves the attestation in a request to an identity, via the attestor named by its `type`. */
export async function attest(attestors: ReadonlyMap<string, Attestor>, evidence: unknown): Promise<Attestation> {
  if (typeof evidence !== "object" || evidence === null || Array.isArray(evidence)) {
    throw new TesseraError("bad_request", "attestation must be an object with a type");
  }
  const { type } = evidence as Record<string, unknown>;
  const attestor = typeof type === "string" ? attestors.get(type) : undefined;
  if (!attestor) {
    throw new TesseraError("bad_request", `attestation type must be one of: ${[...attestors.keys()].join(", ")}`);
  }
  return attestor.attest(evidence as Record<string, unknown>);
}
