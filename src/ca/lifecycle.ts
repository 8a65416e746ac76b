import type { Clock } from "../clock.js";
import { isKeyType, type KeyType } from "../crypto/key-types.js";
import { TesseraError } from "../errors.js";
import type { CaKeyKind, CaKeyRecord, Store } from "../store/store.js";
import { createIntermediateKey, createJwtKey, createRootKey, type LoadedCaKey } from "./ca-keys.js";
import type { KeyStore } from "./key-store.js";
import type { CaManager } from "./manager.js";
import { activateDueAt, prepareDueAt } from "./slot.js";

export interface LifecycleSettings {
  trustDomain: string;
  keyType: KeyType;
  rootTtlMs: number;
  caTtlMs: number;
  jwtKeyTtlMs: number;
}

export async function lifecycleSettings(store: Store): Promise<LifecycleSettings> {
  const s = await store.getSettings();
  const keyType = s.key_type ?? "";
  if (!isKeyType(keyType)) throw new TesseraError("not_initialized", "unknown key type in settings");
  return {
    trustDomain: s.trust_domain ?? "",
    keyType,
    rootTtlMs: Number(s.root_ttl_ms),
    caTtlMs: Number(s.ca_ttl_ms),
    jwtKeyTtlMs: Number(s.jwt_key_ttl_ms),
  };
}

const AUTOMATIC: CaKeyKind[] = ["x509_intermediate", "jwt"];

/**
 * Prepare → activate → retire, for the intermediate CA and the JWT keys
 * (automatically, on SPIRE's thresholds) and for the root (on an operator's
 * word); then, once a retired key's validity has ended, its private key is
 * erased. Every decision is made in the database — a prepared successor is
 * inserted only if none exists, activation flips states in one transaction —
 * so any number of processes ticking at once create exactly one successor.
 */
export class KeyLifecycle {
  constructor(
    private readonly store: Store,
    private readonly keyStore: KeyStore,
    private readonly ca: CaManager,
    private readonly clock: Clock,
    private readonly settings: LifecycleSettings,
  ) {}

  /** Applies the thresholds once; returns true if any key changed state. */
  async tick(actor = "tessera"): Promise<boolean> {
    await this.ca.reload();
    let changed = false;
    for (const kind of AUTOMATIC) {
      const now = this.clock.now().getTime();
      const active = this.ca.active(kind).record;
      let prepared = this.ca.prepared(kind)?.record;
      if (!prepared && now >= prepareDueAt(active)) {
        prepared = await this.prepare(kind, actor, "scheduled");
        changed = true;
      }
      if (prepared && now >= activateDueAt(active)) {
        changed = (await this.activatePrepared(prepared, actor, "scheduled")) || changed;
      }
    }
    const destroyed = await this.destroyExpired(actor);
    if (changed || destroyed) await this.ca.reload();
    return changed || destroyed;
  }

  /** Erases the private keys of retired keys past their validity (checked in memory first: this runs every poll). */
  private async destroyExpired(actor: string): Promise<boolean> {
    const now = this.clock.now().getTime();
    if (!this.ca.records().some((r) => r.state === "retired" && r.destroyedAt === null && r.notAfter <= now)) return false;
    const destroyed = await this.store.destroyExpiredCaKeys(now, (key) => ({
      actor,
      action: "ca.key.destroy",
      subject: key.id,
      details: { kind: key.kind, expired: new Date(key.notAfter).toISOString() },
    }));
    return destroyed.length > 0;
  }

  /** Publishes a successor now (or returns the one already prepared). */
  async prepare(kind: CaKeyKind, actor: string, why = "operator"): Promise<CaKeyRecord> {
    await this.ca.reload();
    const existing = this.ca.prepared(kind);
    if (existing) return existing.record;
    const now = this.clock.now().getTime();
    const common = { keyType: this.settings.keyType, trustDomain: this.settings.trustDomain, now, state: "prepared" as const };
    let key: LoadedCaKey;
    if (kind === "x509_root") key = createRootKey(this.keyStore, { ...common, ttlMs: this.settings.rootTtlMs });
    else if (kind === "jwt") key = createJwtKey(this.keyStore, { ...common, ttlMs: this.settings.jwtKeyTtlMs });
    else key = createIntermediateKey(this.keyStore, this.ca.active("x509_root"), { ...common, ttlMs: this.settings.caTtlMs });
    const stored = await this.store.prepareCaKey(key.record, {
      actor,
      action: "ca.key.prepare",
      subject: key.record.id,
      details: { kind, reason: why, not_after: new Date(key.record.notAfter).toISOString() },
    });
    await this.ca.reload();
    return stored;
  }

  private async activatePrepared(prepared: CaKeyRecord, actor: string, why: string): Promise<boolean> {
    const retiring = this.ca.active(prepared.kind).record.id;
    const done = await this.store.activateCaKey(prepared.id, this.clock.now().getTime(), {
      actor,
      action: "ca.key.activate",
      subject: prepared.id,
      details: { kind: prepared.kind, retired: retiring, reason: why },
    });
    await this.ca.reload();
    return done;
  }

  /**
   * Emergency rotation: prepare a successor if none is, and make it sign now.
   * The old key is retired but stays published until it expires, so what it
   * signed keeps verifying. A new root also gets a new intermediate under it.
   */
  async rotateNow(kind: CaKeyKind, actor: string): Promise<CaKeyRecord> {
    const prepared = await this.prepare(kind, actor, "emergency");
    await this.activatePrepared(prepared, actor, "emergency");
    if (kind === "x509_root") {
      // issuance must chain to the new root at once; a successor prepared
      // under the old root is activated and immediately replaced
      let intermediate = await this.rotateNow("x509_intermediate", actor);
      if (intermediate.parentId !== prepared.id) intermediate = await this.rotateNow("x509_intermediate", actor);
    }
    return prepared;
  }
}
