import { mkdirSync } from "node:fs";
import type { Clock } from "../clock.js";
import type { KeyType } from "../crypto/key-types.js";
import { dataFiles, isInitialized } from "../data-dir.js";
import { TesseraError } from "../errors.js";
import { parseTrustDomain } from "../identity/spiffe-id.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { createIntermediateKey, createJwtKey, createRootKey } from "./ca-keys.js";
import { createKeyStore } from "./key-store.js";

export interface InitOptions {
  trustDomain: string;
  keyType: KeyType;
  rootTtlMs: number;
  caTtlMs: number;
  jwtKeyTtlMs: number;
}

export const DEFAULT_INIT: Omit<InitOptions, "trustDomain"> = {
  keyType: "ec-p256",
  rootTtlMs: 5 * 365 * 86_400_000,
  caTtlMs: 7 * 86_400_000,
  jwtKeyTtlMs: 7 * 86_400_000,
};

export interface InitResult {
  rootId: string;
  intermediateId: string;
  jwtKeyId: string;
  rootCertificate: Buffer;
}

/**
 * Creates the data directory, the database, the master key protection, a
 * root, the first intermediate and the first JWT key. Refuses to touch an
 * already initialised directory.
 */
export async function initializeCa(
  dataDir: string,
  opts: InitOptions,
  env: NodeJS.ProcessEnv,
  clock: Clock,
): Promise<InitResult> {
  parseTrustDomain(opts.trustDomain);
  if (opts.caTtlMs >= opts.rootTtlMs) throw new TesseraError("invalid_argument", "--ca-ttl must be shorter than --root-ttl");
  if (isInitialized(dataDir)) throw new TesseraError("conflict", `${dataDir} is already initialised`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { store: keyStore, settings: protection } = createKeyStore(dataDir, env);
  const now = clock.now().getTime();
  const store = new SqliteStore(dataFiles(dataDir).database, { now: () => clock.now().getTime() });
  try {
    await store.putSettings({
      ...(protection as unknown as Record<string, string>),
      trust_domain: opts.trustDomain,
      key_type: opts.keyType,
      root_ttl_ms: String(opts.rootTtlMs),
      ca_ttl_ms: String(opts.caTtlMs),
      jwt_key_ttl_ms: String(opts.jwtKeyTtlMs),
      created_at: String(now),
    });
    const common = { keyType: opts.keyType, trustDomain: opts.trustDomain, now, state: "active" as const };
    const root = createRootKey(keyStore, { ...common, ttlMs: opts.rootTtlMs });
    const intermediate = createIntermediateKey(keyStore, root, { ...common, ttlMs: opts.caTtlMs });
    const jwt = createJwtKey(keyStore, { ...common, ttlMs: opts.jwtKeyTtlMs });
    const actor = "operator";
    await store.insertCaKey(root.record, {
      actor,
      action: "ca.init",
      subject: root.record.id,
      details: { trust_domain: opts.trustDomain, key_type: opts.keyType, kind: "x509_root" },
    });
    await store.insertCaKey(intermediate.record, {
      actor,
      action: "ca.key.activate",
      subject: intermediate.record.id,
      details: { kind: "x509_intermediate", not_after: new Date(intermediate.record.notAfter).toISOString() },
    });
    await store.insertCaKey(jwt.record, {
      actor,
      action: "ca.key.activate",
      subject: jwt.record.id,
      details: { kind: "jwt", not_after: new Date(jwt.record.notAfter).toISOString() },
    });
    return {
      rootId: root.record.id,
      intermediateId: intermediate.record.id,
      jwtKeyId: jwt.record.id,
      rootCertificate: root.record.certificateDer as Buffer,
    };
  } finally {
    store.close();
  }
}
