import { createHash, createPublicKey, type KeyObject, sign } from "node:crypto";
import { promisify } from "node:util";
import { bitStringBytes, children, readWhole, Tag } from "../der/der-reader.js";
import { nullValue, objectIdentifier, sequence } from "../der/der-writer.js";
import { OID } from "../der/oids.js";
import { type KeyType, keyTypeOf } from "./key-types.js";

const signAsync = promisify(sign);

/**
 * Makes a signature away from the event loop. `p1363` asks for ECDSA as
 * r||s (JWS) rather than DER (X.509).
 */
export type SignatureOffload = (hash: string | null, data: Buffer, key: KeyObject, p1363: boolean) => Promise<Buffer>;

/** Node's asynchronous `crypto.sign`, on libuv's thread pool. */
export const libuvPoolSign: SignatureOffload = (hash, data, key, p1363) =>
  signAsync(hash, data, p1363 ? { key, dsaEncoding: "ieee-p1363" } : key);

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
  private offload: SignatureOffload = libuvPoolSign;
  private forget: ((key: KeyObject) => void) | undefined;

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
   * Where the asynchronous signatures below are made (libuv's pool unless the
   * server has threads for it); `forget` lets that place drop its copy of the
   * key once this signer is released.
   */
  offloadTo(offload: SignatureOffload, forget?: (key: KeyObject) => void): void {
    this.offload = offload;
    this.forget = forget;
  }

  /** This key will not sign again here: where signatures were offloaded to drops it too. */
  release(): void {
    this.forget?.(this.privateKey);
    this.offload = libuvPoolSign;
    this.forget = undefined;
  }

  /** `signX509` off the event loop, for hot paths: it serves other requests meanwhile. */
  signX509Async(data: Buffer): Promise<Buffer> {
    return this.offload(this.hash, data, this.privateKey, false);
  }

  /** A JWS signature (ECDSA as r||s per RFC 7518), made off the event loop. */
  signJwsAsync(data: Buffer): Promise<Buffer> {
    return this.offload(this.hash, data, this.privateKey, true);
  }
}

/** SHA-1 over the subjectPublicKey BIT STRING contents of a DER SPKI (RFC 5280 §4.2.1.2 method 1). */
export function keyIdentifierOf(spki: Buffer): Buffer {
  const outer = readWhole(spki, Tag.SEQUENCE, "SubjectPublicKeyInfo");
  const [, subjectPublicKey] = children(outer, spki);
  if (!subjectPublicKey) throw new Error("SubjectPublicKeyInfo without a key");
  return createHash("sha1").update(bitStringBytes(subjectPublicKey)).digest();
}
