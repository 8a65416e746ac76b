import { createHash } from "node:crypto";
import { asIssuer } from "../ca/ca-keys.js";
import type { CaManager } from "../ca/manager.js";
import type { Clock } from "../clock.js";
import type { Store, StoredCrl } from "../store/store.js";
import { pemEncode } from "../x509/pem.js";
import { buildCrl } from "./build-crl.js";

/** A CRL ready to serve. */
export interface ServedCrl {
  issuerId: string;
  number: number;
  der: Buffer;
  /** PEM form, encoded on first use (a large CRL is megabytes). */
  readonly pem: string;
  etag: string;
  thisUpdate: number;
  nextUpdate: number;
}

function served(crl: StoredCrl): ServedCrl {
  let pem: string | undefined;
  return {
    issuerId: crl.issuerId,
    number: crl.number,
    der: crl.der,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    etag: `"${createHash("sha256").update(crl.der).digest("base64url").slice(0, 27)}"`,
    get pem() {
      pem ??= pemEncode(crl.der, "X509 CRL");
      return pem;
    },
  };
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
   * then loads any stored CRL newer than the cached one. An issuer whose
   * build fails keeps its last stored CRL; the failures are thrown after every
   * other issuer was built and every CRL loaded.
   */
  async refresh(options: { build?: boolean } = {}): Promise<void> {
    const now = this.clock.now().getTime();
    const issuers = this.ca.published("x509_intermediate").map((k) => k.record.id);
    const failures: unknown[] = [];
    if (options.build ?? true) {
      const due = await this.store.crlsNeedingBuild(issuers, now, now + this.options.validityMs / 2);
      for (const id of due) await this.build(id).catch((err: unknown) => failures.push(err));
    }
    for (const id of issuers) {
      const number = await this.store.crlNumber(id);
      if (number === undefined || number === this.cache.get(id)?.number) continue;
      const stored = await this.store.getCrl(id);
      if (stored) this.cache.set(id, served(stored));
    }
    for (const id of this.cache.keys()) if (!issuers.includes(id)) this.cache.delete(id);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} CRLs could not be built`);
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
        entries: snapshot.revoked,
      },
      key.signer,
    );
    const crl: StoredCrl = {
      issuerId,
      number: snapshot.number,
      thisUpdate: thisUpdate.getTime(),
      nextUpdate: nextUpdate.getTime(),
      der,
      dropAt: snapshot.revoked.earliestExpiry,
    };
    // serve what we just built without reading it back, if it is the newest
    if (await this.store.saveCrl(crl, snapshot.revision)) this.cache.set(issuerId, served(crl));
  }

  /** The CRL of one issuing CA (default: the active one). */
  get(issuerId?: string): ServedCrl | undefined {
    return this.cache.get(issuerId ?? this.ca.activeIntermediate().record.id);
  }

  all(): ServedCrl[] {
    return [...this.cache.values()];
  }
}
