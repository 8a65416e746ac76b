import { createPublicKey, type KeyObject, sign } from "node:crypto";
import { promisify } from "node:util";
import { nullValue, objectIdentifier, sequence } from "../der/der-writer.js";
import { OID } from "../der/oids.js";
import { type LeafFields, type LeafTemplate, leafForCsrAsync } from "../x509/leaf-certificate.js";
import { keyIdentifierOf } from "./key-identifier.js";
import { type KeyType, keyTypeOf } from "./key-types.js";

const signAsync = promisify(sign);

/**
 * Makes a signature away from the event loop. `p1363` asks for ECDSA as
 * r||s (JWS) rather than DER (X.509).
 */
export type SignatureOffload = (hash: string | null, data: Buffer, key: KeyObject, p1363: boolean) => Promise<Buffer>;

/**
 * Checks a CSR, builds the leaf for its key and signs it with `key`, all in
 * one trip away from the event loop (see CryptoThreads).
 */
export type LeafOffload = (
  csr: string,
  template: LeafTemplate,
  fields: LeafFields,
  key: KeyObject,
  hash: string | null,
) => Promise<Buffer>;

/** Where a signer's hot-path work is done; `forget` lets that place drop its copy of a key. */
export interface CryptoOffload {
  sign: SignatureOffload;
  leaf?: LeafOffload;
  forget?: (key: KeyObject) => void;
}

/** Node's asynchronous `crypto.sign`, on libuv's thread pool. */
export const libuvPoolSign: SignatureOffload = (hash, data, key, p1363) =>
  signAsync(hash, data, p1363 ? { key, dsaEncoding: "ieee-p1363" } : key);

const ON_POOL: CryptoOffload = { sign: libuvPoolSign };

/**
 * Signs with one private key. Built once per key: the AlgorithmIdentifier
 * encoding and the hash name are computed here so each signature costs only
 * the signature itself.
 */
export class Signer {
  readonly keyType: KeyType;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly spki: Buffer;
  /** DER AlgorithmIdentifier for X.509 signatures by this key. */
  readonly algorithmIdentifier: Buffer;
  /** JWS `alg` for this key. */
  readonly jwsAlgorithm: string;
  /** RFC 5280 method-1 key identifier (SHA-1 of the subjectPublicKey bits). */
  readonly keyIdentifier: Buffer;
  private readonly hash: string | null;
  private offload: CryptoOffload = ON_POOL;

  constructor(private readonly privateKey: KeyObject) {
    const type = keyTypeOf(privateKey);
    if (!type) throw new Error("unsupported CA key type");
    this.keyType = type;
    this.publicKey = createPublicKey(privateKey);
    this.spki = this.publicKey.export({ type: "spki", format: "der" });
    this.keyIdentifier = keyIdentifierOf(this.spki);
    switch (type) {
      case "ec-p256":
        this.hash = "sha256";
        this.algorithmIdentifier = sequence(objectIdentifier(OID.ecdsaWithSHA256));
        this.jwsAlgorithm = "ES256";
        break;
      case "ec-p384":
        this.hash = "sha384";
        this.algorithmIdentifier = sequence(objectIdentifier(OID.ecdsaWithSHA384));
        this.jwsAlgorithm = "ES384";
        break;
      case "ed25519":
        this.hash = null;
        this.algorithmIdentifier = sequence(objectIdentifier(OID.ed25519));
        this.jwsAlgorithm = "EdDSA";
        break;
      case "rsa-2048":
      case "rsa-3072":
        this.hash = "sha256";
        this.algorithmIdentifier = sequence(objectIdentifier(OID.sha256WithRSA), nullValue());
        this.jwsAlgorithm = "RS256";
        break;
    }
  }

  /** An X.509 signature (DER-encoded ECDSA, PKCS#1 v1.5 RSA, or raw Ed25519). */
  signX509(data: Buffer): Buffer {
    return sign(this.hash, data, this.privateKey);
  }

  /**
   * Where the asynchronous work below is done: libuv's pool (and the CSR
   * check on it too) unless the server has threads for it.
   */
  offloadTo(offload: CryptoOffload): void {
    this.offload = offload;
  }

  /** This key will not sign again here: where signatures were offloaded to drops it too. */
  release(): void {
    this.offload.forget?.(this.privateKey);
    this.offload = ON_POOL;
  }

  /** `signX509` off the event loop, for hot paths: it serves other requests meanwhile. */
  signX509Async(data: Buffer): Promise<Buffer> {
    return this.offload.sign(this.hash, data, this.privateKey, false);
  }

  /** A JWS signature (ECDSA as r||s per RFC 7518), made off the event loop. */
  signJwsAsync(data: Buffer): Promise<Buffer> {
    return this.offload.sign(this.hash, data, this.privateKey, true);
  }

  /** A leaf certificate for the key of `csr` once it proves possession (see leafForCsrAsync), signed by this key off the event loop. */
  leafForCsr(csr: string, template: LeafTemplate, fields: LeafFields): Promise<Buffer> {
    const { leaf } = this.offload;
    if (leaf) return leaf(csr, template, fields, this.privateKey, this.hash);
    return leafForCsrAsync(csr, template, fields, (tbs) => this.signX509Async(tbs));
  }
}
