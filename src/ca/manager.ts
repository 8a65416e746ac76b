import type { Clock } from "../clock.js";
import type { CryptoOffload } from "../crypto/signer.js";
import { TesseraError } from "../errors.js";
import { BUNDLE_SEQUENCE_FLOOR_KEY } from "../store/settings-keys.js";
import type { CaKeyKind, CaKeyRecord, Store } from "../store/store.js";
import { pemEncode } from "../x509/pem.js";
import { LeafIssuer } from "../x509/profile.js";
import { asIssuer, type LoadedCaKey, loadCaKey } from "./ca-keys.js";
import type { KeyStore } from "./key-store.js";

/**
 * How long a newly created key waits before it signs, when the key it
 * replaces can still sign. Every server process reloads keys each poll
 * interval (100 ms by default); until all have, some would not yet publish
 * the new key, and a verifier fetching the bundle or JWKS from one of them
 * would refuse what another signed. Scheduled rotations create successors
 * long before they activate, so only an emergency `rotate --now` waits.
 */
export const PUBLISH_GRACE_MS = 500;

/**
 * Whether a key is held in memory: every key that is or may still be used
 * (prepared, active, retired but still valid), never one whose validity has
 * ended after it was retired (it can sign nothing that verifies; its private
 * key is erased by the lifecycle). An active key stays even past its expiry,
 * so that a CA that was down for longer than a key's life can rotate.
 */
function isLive(r: CaKeyRecord, now: number): boolean {
  return r.destroyedAt === null && !(r.state === "retired" && r.notAfter <= now);
}

/**
 * Holds the live CA keys in memory, decrypted once, and answers which key
 * signs now and which keys are published. The database decides key states;
 * this class only mirrors them (see `reload`).
 */
export class CaManager {
  /** Live keys (see isLive), decrypted. */
  private keys = new Map<string, LoadedCaKey>();
  /** Every key record, live or not. */
  private all: CaKeyRecord[] = [];
  private leafIssuers = new Map<string, LeafIssuer>();
  private signature = "";
  /** What the store said at the last full read, and when a retired key held in memory expires next. */
  private version: string | undefined;
  private nextExpiry = Number.NEGATIVE_INFINITY;
  private pemCache = new Map<string, string>();
  /** The least bundle sequence to publish (after a restore the key records may lie in the past). */
  private sequenceFloor = 0;
  private offload: CryptoOffload | undefined;

  private constructor(
    private readonly store: Store,
    private readonly keyStore: KeyStore,
    private readonly clock: Clock,
    readonly trustDomain: string,
  ) {}

  static async open(store: Store, keyStore: KeyStore, clock: Clock): Promise<CaManager> {
    const settings = await store.getSettings();
    if (!settings.trust_domain) throw new TesseraError("not_initialized", "the data directory is not initialised");
    const manager = new CaManager(store, keyStore, clock, settings.trust_domain);
    manager.sequenceFloor = Number(settings[BUNDLE_SEQUENCE_FLOOR_KEY] ?? 0) || 0;
    await manager.reload();
    return manager;
  }

  /** Makes the hot-path work of every key, loaded now or later, where `offload` says. */
  offloadTo(offload: CryptoOffload): void {
    this.offload = offload;
    for (const key of this.keys.values()) key.signer.offloadTo(offload);
  }

  /**
   * Re-reads key states from the store; new live keys are decrypted, known
   * ones reused, and keys no longer live are dropped. Returns true if
   * anything changed.
   */
  async reload(): Promise<boolean> {
    const now = this.clock.now().getTime();
    const version = await this.store.caKeysVersion();
    if (version === this.version && now < this.nextExpiry) return false;
    const records = await this.store.listCaKeys();
    const signature = records.map((r) => `${r.id}:${r.state}:${isLive(r, now) ? "live" : "gone"}`).join(",");
    const changed = signature !== this.signature;
    if (changed) {
      const next = new Map<string, LoadedCaKey>();
      for (const r of records) {
        if (!isLive(r, now)) continue;
        const known = this.keys.get(r.id);
        const key = known ? { ...known, record: r } : loadCaKey(r, this.keyStore);
        if (!known && this.offload) key.signer.offloadTo(this.offload);
        next.set(r.id, key);
      }
      for (const [id, key] of this.keys) if (!next.has(id)) key.signer.release();
      for (const cacheKey of this.leafIssuers.keys()) {
        if (!next.has(cacheKey.slice(0, cacheKey.indexOf(" ")))) this.leafIssuers.delete(cacheKey);
      }
      this.keys = next;
      this.signature = signature;
      this.pemCache = new Map();
    }
    // a key that is not live may still have changed (erased)
    this.all = records;
    this.version = version;
    this.nextExpiry = Math.min(
      Number.POSITIVE_INFINITY,
      ...records.filter((r) => r.state === "retired" && isLive(r, now)).map((r) => r.notAfter),
    );
    return changed;
  }

  private ofKind(kind: CaKeyKind): LoadedCaKey[] {
    return [...this.keys.values()].filter((k) => k.record.kind === kind);
  }

  /** The key of a kind the database marks active (what lifecycle decisions go by). */
  active(kind: CaKeyKind): LoadedCaKey {
    const key = this.ofKind(kind).find((k) => k.record.state === "active");
    if (!key) throw new TesseraError("unavailable", `no active ${kind} key`);
    return key;
  }

  /**
   * The key of a kind that signs now: the active one, unless it was created
   * less than PUBLISH_GRACE_MS ago and the key it replaced is still valid.
   */
  private signing(kind: CaKeyKind): LoadedCaKey {
    const current = this.active(kind);
    const now = this.clock.now().getTime();
    if (now - current.record.createdAt >= PUBLISH_GRACE_MS) return current;
    let previous: LoadedCaKey | undefined;
    for (const k of this.ofKind(kind)) {
      if (k.record.state !== "retired" || k.record.notAfter <= now || k.record.activatedAt === null) continue;
      if (!previous || k.record.activatedAt > (previous.record.activatedAt ?? 0)) previous = k;
    }
    return previous ?? current;
  }

  prepared(kind: CaKeyKind): LoadedCaKey | undefined {
    return this.ofKind(kind).find((k) => k.record.state === "prepared");
  }

  /** The issuing CA that signs certificates now. */
  activeIntermediate(): LoadedCaKey {
    return this.signing("x509_intermediate");
  }

  /** The key that signs JWT-SVIDs now. */
  activeJwtKey(): LoadedCaKey {
    return this.signing("jwt");
  }

  /** Keys of a kind that are still within their validity: the ones to publish. */
  published(kind: CaKeyKind): LoadedCaKey[] {
    const now = this.clock.now().getTime();
    return this.ofKind(kind).filter((k) => k.record.notAfter > now);
  }

  get(id: string): LoadedCaKey | undefined {
    return this.keys.get(id);
  }

  /** Every key, live or not (`ca status`). */
  records(): CaKeyRecord[] {
    return this.all;
  }

  /**
   * A number that grows whenever what is published changes: the newest key
   * creation, state change or expiry, in epoch milliseconds. Derived from the
   * key records, so every process computes the same value.
   */
  bundleSequence(): number {
    const now = this.clock.now().getTime();
    let sequence = this.sequenceFloor;
    for (const r of this.all) {
      sequence = Math.max(sequence, r.createdAt, r.activatedAt ?? 0, r.retiredAt ?? 0, r.notAfter <= now ? r.notAfter : 0);
    }
    return sequence;
  }

  /** PEM of every published root: the trust bundle. */
  bundlePem(): string {
    // cached per reload and per minute (a root may expire out of the bundle)
    const key = `bundle:${Math.floor(this.clock.now().getTime() / 60_000)}`;
    let pem = this.pemCache.get(key);
    if (pem === undefined) {
      pem = this.published("x509_root")
        .map((k) => pemEncode(k.record.certificateDer as Buffer, "CERTIFICATE"))
        .join("");
      this.pemCache.set(key, pem);
    }
    return pem;
  }

  /** PEM of an intermediate's certificate (what a leaf chains through). */
  intermediatePem(id: string): string {
    let pem = this.pemCache.get(id);
    if (pem === undefined) {
      const key = this.keys.get(id);
      if (!key?.record.certificateDer) throw new TesseraError("not_found", `no CA certificate ${id}`);
      pem = pemEncode(key.record.certificateDer, "CERTIFICATE");
      this.pemCache.set(id, pem);
    }
    return pem;
  }

  /** The leaf issuer for an intermediate, with CRL distribution point `<crlBaseUrl>/<id>`. */
  leafIssuer(id: string, crlBaseUrl: string): LeafIssuer {
    const cacheKey = `${id} ${crlBaseUrl}`;
    let issuer = this.leafIssuers.get(cacheKey);
    if (!issuer) {
      const key = this.keys.get(id);
      if (!key) throw new TesseraError("unavailable", `unknown issuing CA ${id}`);
      issuer = new LeafIssuer(asIssuer(key), `${crlBaseUrl}/${id}`);
      this.leafIssuers.set(cacheKey, issuer);
    }
    return issuer;
  }
}
