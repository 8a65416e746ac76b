import type { CaKeyRecord } from "../store/store.js";

/**
 * SPIRE's two-slot model: a successor is prepared (and published) at 1/2 of
 * the active key's life and takes over signing at 5/6, so it has been
 * published for a third of a lifetime before it signs anything, and the old
 * key keeps a sixth of its life for what it already signed to expire.
 */
export const PREPARE_AT = 1 / 2;
export const ACTIVATE_AT = 5 / 6;

export function lifetime(key: Pick<CaKeyRecord, "notBefore" | "notAfter">): number {
  return key.notAfter - key.notBefore;
}

export function prepareDueAt(active: Pick<CaKeyRecord, "notBefore" | "notAfter">): number {
  return active.notBefore + lifetime(active) * PREPARE_AT;
}

export function activateDueAt(active: Pick<CaKeyRecord, "notBefore" | "notAfter">): number {
  return active.notBefore + lifetime(active) * ACTIVATE_AT;
}
