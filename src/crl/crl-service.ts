import { createHash } from "node:crypto";
import { asIssuer } from "../ca/ca-keys.js";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import type { Store } from "../store/store.js";
import { pemEncode } from "../x509/pem.js";
import { buildCrl } from "./build-crl.js";

/** A CRL ready to serve. */
export interface ServedCrl {
  issuerId: string;
  number: number;
  der: Buffer;
  pem: string;
  etag: string;
  thisUpdate: number;
  nextUpdate: number;
}

export interface CrlOptions {
  /** How long each CRL is valid (nextUpdate - thisUpdate). */
  validityMs: number;
}

export const DEFAULT_CRL_VALIDITY_MS = 60 * 60_000;

/**
 * Keeps one CRL per issuing CA current: rebuilds it when a revocation made it
 * stale (by any process sharing the database) or when half its validity has
 * passed, and keeps the newest stored copy in memory for serving.
 */
export class CrlService {
  private cache = new Map<string, ServedCrl>();

  constructor(
    private readonly store: Store,
    private readonly ca: CaManager,
    private readonly clock: Clock,
    private readonly options: CrlOptions = { validityMs: DEFAULT_CRL_VALIDITY_MS },
  ) {}

  /**
   * Rebuilds what needs it (unless `build` is false: another process does),
   * then loads any stored CRL newer than the cached one.
   */
  async refresh(options: { build?: boolean } = {}): Promise<void> {
    const now = this.clock.now().getTime();
    const issuers = this.ca.published("x509_intermediate").map((k) => k.record.id);
    if (options.build ?? true) {
      const due = await this.store.crlsNeedingBuild(issuers, now, now + this.options.validityMs / 2);
      for (const id of due) await this.build(id);
    }
    for (const id of issuers) {
      const stored = await this.store.getCrl(id);
      if (stored && stored.number !== this.cache.get(id)?.number) {
        this.cache.set(id, {
          ...stored,
          pem: pemEncode(stored.der, "X509 CRL"),
          etag: `"${createHash("sha256").update(stored.der).digest("base64url").slice(0, 27)}"`,
        });
      }
    }
    for (const id of this.cache.keys()) if (!issuers.includes(id)) this.cache.delete(id);
  }

  private async build(issuerId: string): Promise<void> {
    const key = this.ca.get(issuerId);
    if (!key) return;
    const now = this.clock.now();
    const snapshot = await this.store.beginCrlBuild(issuerId, now.getTime());
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.options.validityMs);
    const der = buildCrl(
      {
        issuerName: asIssuer(key).subjectName,
        number: BigInt(snapshot.number),
        thisUpdate,
        nextUpdate,
        entries: snapshot.revoked.map((r) => ({
          serialHex: r.serial,
          revokedAtSeconds: Math.floor(r.revokedAt / 1000),
          reason: r.reason,
        })),
      },
      key.signer,
    );
    let dropAt: number | null = null;
    for (const r of snapshot.revoked) if (dropAt === null || r.notAfter < dropAt) dropAt = r.notAfter;
    await this.store.saveCrl(
      { issuerId, number: snapshot.number, thisUpdate: thisUpdate.getTime(), nextUpdate: nextUpdate.getTime(), der, dropAt },
      snapshot.revision,
    );
  }

  /** The CRL of one issuing CA (default: the active one). */
  get(issuerId?: string): ServedCrl | undefined {
    return this.cache.get(issuerId ?? this.ca.activeIntermediate().record.id);
  }

  all(): ServedCrl[] {
    return [...this.cache.values()];
  }
}
