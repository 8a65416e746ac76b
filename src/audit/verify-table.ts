import type { Store } from "../store/store.js";
import { type AuditAnchor, type AuditVerdict, verifyAuditChain } from "./audit-chain.js";

/**
 * Verifies the audit table as it stands: from the newest archive's head when
 * the start of the log was archived (those rows are checked with their
 * files, `audit verify --archive`), else from the first row.
 */
export async function verifyAuditTable(
  store: Pick<Store, "auditArchives" | "auditRows">,
  options: { anchor?: AuditAnchor; onProgress?: (rows: number) => void } = {},
): Promise<AuditVerdict> {
  const newest = (await store.auditArchives()).at(-1);
  return verifyAuditChain(store.auditRows(newest?.throughSeq ?? 0), {
    start: newest ? { seq: newest.throughSeq, hash: newest.headHash } : undefined,
    ...options,
  });
}
