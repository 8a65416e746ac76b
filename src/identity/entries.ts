import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { parseDnsName } from "../config.js";
import { formatDuration } from "../duration.js";
import { TesseraError } from "../errors.js";
import type { EntryRecord, Store } from "../store/store.js";
import { parseSelector, selectorsSatisfy } from "./selector.js";
import { parseSpiffeIdIn } from "./spiffe-id.js";

export const X509_TTL_BOUNDS = { min: 60_000, max: 30 * 86_400_000 };
export const JWT_TTL_BOUNDS = { min: 30_000, max: 86_400_000 };
const MAX_SELECTORS = 32;
const MAX_DNS_NAMES = 32;

export interface NewEntry {
  spiffeId: string;
  selectors: string[];
  dnsNames?: string[];
  x509TtlMs?: number;
  jwtTtlMs?: number;
}

function checkTtl(name: string, value: number | undefined, bounds: { min: number; max: number }): number | null {
  if (value === undefined) return null;
  if (value < bounds.min || value > bounds.max) {
    throw new TesseraError(
      "invalid_duration",
      `${name} must be between ${formatDuration(bounds.min)} and ${formatDuration(bounds.max)}`,
    );
  }
  return value;
}

/** Validates and stores a registration entry. */
export async function createEntry(
  deps: { store: Store; clock: Clock; trustDomain: string },
  input: NewEntry,
  actor: string,
): Promise<EntryRecord> {
  const spiffeId = parseSpiffeIdIn(input.spiffeId, deps.trustDomain).toString();
  if (input.selectors.length === 0) throw new TesseraError("invalid_selector", "an entry needs at least one selector");
  if (input.selectors.length > MAX_SELECTORS) throw new TesseraError("invalid_selector", `at most ${MAX_SELECTORS} selectors`);
  const selectors = [...new Set(input.selectors.map(parseSelector))].sort();
  const dnsNames = [...new Set((input.dnsNames ?? []).map(parseDnsName))];
  if (dnsNames.length > MAX_DNS_NAMES) throw new TesseraError("invalid_argument", `at most ${MAX_DNS_NAMES} DNS names`);
  const entry: EntryRecord = {
    id: randomUUID(),
    spiffeId,
    selectors,
    dnsNames,
    x509TtlMs: checkTtl("--x509-ttl", input.x509TtlMs, X509_TTL_BOUNDS),
    jwtTtlMs: checkTtl("--jwt-ttl", input.jwtTtlMs, JWT_TTL_BOUNDS),
    createdAt: deps.clock.now().getTime(),
  };
  const created = await deps.store.insertEntry(entry, {
    actor,
    action: "entry.create",
    subject: spiffeId,
    details: { entry_id: entry.id, selectors, dns_names: dnsNames },
  });
  if (!created) throw new TesseraError("conflict", `an entry for ${spiffeId} with these selectors already exists`);
  return entry;
}

export async function deleteEntry(store: Store, id: string, actor: string): Promise<EntryRecord> {
  const entry = await store.getEntry(id);
  if (!entry) throw new TesseraError("not_found", `no entry ${id}`);
  await store.deleteEntry(id, { actor, action: "entry.delete", subject: entry.spiffeId, details: { entry_id: id } });
  return entry;
}

/**
 * Picks the entry a workload gets among those whose selectors it satisfies.
 * If the request names a SPIFFE ID, only entries for that ID qualify.
 * Otherwise the most specific entry wins (most selectors); ties go to the
 * lexicographically smallest SPIFFE ID, then entry id — so the outcome never
 * depends on insertion order.
 */
export function chooseEntry(
  entries: readonly EntryRecord[],
  attested: readonly string[],
  wanted?: string,
): EntryRecord | undefined {
  const eligible = entries.filter(
    (e) => selectorsSatisfy(e.selectors, attested) && (wanted === undefined || e.spiffeId === wanted),
  );
  eligible.sort(
    (a, b) =>
      b.selectors.length - a.selectors.length ||
      (a.spiffeId < b.spiffeId ? -1 : a.spiffeId > b.spiffeId ? 1 : a.id < b.id ? -1 : 1),
  );
  return eligible[0];
}
