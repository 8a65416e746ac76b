import type { KeyObject } from "node:crypto";
import { X509Certificate } from "node:crypto";
import { generateKeyPair, type KeyType } from "../crypto/key-types.js";
import { Signer } from "../crypto/signer.js";
import type { CaKeyKind, CaKeyRecord } from "../store/store.js";
import { certificateParts } from "../x509/certificate-info.js";
import { buildIntermediateCertificate, buildRootCertificate, type Issuer } from "../x509/profile.js";
import type { KeyStore } from "./key-store.js";

/** A CA key opened for use: its record, a Signer, and for X.509 keys the parsed certificate parts. */
export interface LoadedCaKey {
  record: CaKeyRecord;
  signer: Signer;
  /** For X.509 CA keys: the certificate subject, used as issuer name of what it signs. */
  subjectName: Buffer | null;
}

const PREFIX: Record<CaKeyKind, string> = { x509_root: "root", x509_intermediate: "ca", jwt: "jwt" };

/** Key ids are derived from the key itself: kind prefix + first 8 bytes of the key identifier. */
export function caKeyId(kind: CaKeyKind, signer: Signer): string {
  return `${PREFIX[kind]}-${signer.keyIdentifier.subarray(0, 8).toString("hex")}`;
}

export function loadCaKey(record: CaKeyRecord, keyStore: KeyStore): LoadedCaKey {
  const signer = new Signer(keyStore.open(record.encryptedPrivateKey, record.id));
  const subjectName = record.certificateDer ? Buffer.from(certificateParts(record.certificateDer).subjectName) : null;
  return { record, signer, subjectName };
}

export function asIssuer(key: LoadedCaKey): Issuer {
  if (!key.subjectName) throw new Error(`${key.record.id} is not an X.509 CA key`);
  return { signer: key.signer, subjectName: key.subjectName };
}

function record(
  kind: CaKeyKind,
  state: CaKeyRecord["state"],
  privateKey: KeyObject,
  signer: Signer,
  keyStore: KeyStore,
  fields: { certificateDer: Buffer | null; parentId: string | null; notBefore: number; notAfter: number; now: number },
): CaKeyRecord {
  const id = caKeyId(kind, signer);
  return {
    id,
    kind,
    state,
    keyType: signer.keyType,
    encryptedPrivateKey: keyStore.seal(privateKey, id),
    publicKeySpki: signer.spki,
    certificateDer: fields.certificateDer,
    parentId: fields.parentId,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    createdAt: fields.now,
    activatedAt: state === "active" ? fields.now : null,
    retiredAt: null,
    destroyedAt: null,
  };
}

export interface NewKeyOptions {
  keyType: KeyType;
  trustDomain: string;
  now: number;
  ttlMs: number;
  state: CaKeyRecord["state"];
}

export function createRootKey(keyStore: KeyStore, opts: NewKeyOptions): LoadedCaKey {
  const { privateKey } = generateKeyPair(opts.keyType);
  const signer = new Signer(privateKey);
  const notBefore = opts.now - 60_000;
  const notAfter = opts.now + opts.ttlMs;
  const der = buildRootCertificate(signer, {
    trustDomain: opts.trustDomain,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
  });
  const rec = record("x509_root", opts.state, privateKey, signer, keyStore, {
    certificateDer: der,
    parentId: null,
    notBefore,
    notAfter,
    now: opts.now,
  });
  return { record: rec, signer, subjectName: Buffer.from(certificateParts(der).subjectName) };
}

/** A new intermediate signed by `root`; its life never extends past the root's. */
export function createIntermediateKey(keyStore: KeyStore, root: LoadedCaKey, opts: NewKeyOptions): LoadedCaKey {
  const { privateKey } = generateKeyPair(opts.keyType);
  const signer = new Signer(privateKey);
  const notBefore = opts.now - 60_000;
  const notAfter = Math.min(opts.now + opts.ttlMs, root.record.notAfter);
  const der = buildIntermediateCertificate(asIssuer(root), signer.spki, {
    trustDomain: opts.trustDomain,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    label: new Date(opts.now).toISOString().replace(/\.\d+Z$/, "Z"),
  });
  const rec = record("x509_intermediate", opts.state, privateKey, signer, keyStore, {
    certificateDer: der,
    parentId: root.record.id,
    notBefore,
    notAfter,
    now: opts.now,
  });
  return { record: rec, signer, subjectName: Buffer.from(certificateParts(der).subjectName) };
}

/** A JWT signing key (no certificate). */
export function createJwtKey(keyStore: KeyStore, opts: NewKeyOptions): LoadedCaKey {
  const { privateKey } = generateKeyPair(opts.keyType);
  const signer = new Signer(privateKey);
  const rec = record("jwt", opts.state, privateKey, signer, keyStore, {
    certificateDer: null,
    parentId: null,
    notBefore: opts.now,
    notAfter: opts.now + opts.ttlMs,
    now: opts.now,
  });
  return { record: rec, signer, subjectName: null };
}

/** SHA-256 fingerprint of a DER certificate, as `sha256:<hex>`. */
export function certificateFingerprint(der: Buffer): string {
  return `sha256:${new X509Certificate(der).fingerprint256.replace(/:/g, "").toLowerCase()}`;
}
