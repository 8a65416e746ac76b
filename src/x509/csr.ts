import { type KeyObject, verify } from "node:crypto";
import { promisify } from "node:util";
import { publicKeyFromSpki, publicKeyFromSpkiToVerify, type SpkiParts, spkiParts } from "../crypto/public-key.js";
import { bitStringBytes, children, DerError, decodeOid, expectTlv, readWhole, Tag } from "../der/der-reader.js";
import { OID } from "../der/oids.js";
import { TesseraError } from "../errors.js";
import { pemDecodeOne } from "./pem.js";

/** Largest CSR we look at; real ones are under 2 KiB even with RSA-4096. */
export const MAX_CSR_BYTES = 16 * 1024;

export interface ParsedCsr {
  /** DER SubjectPublicKeyInfo exactly as the requester sent it (copied into the certificate). */
  spki: Buffer;
  publicKey: KeyObject;
  /** True for RSA keys (their certificates also get keyEncipherment). */
  isRsa: boolean;
}

const SIGNATURE_HASH: Record<string, { hash: string | null; keyType: string }> = {
  [OID.ecdsaWithSHA256]: { hash: "sha256", keyType: "ec" },
  [OID.ecdsaWithSHA384]: { hash: "sha384", keyType: "ec" },
  [OID.ecdsaWithSHA512]: { hash: "sha512", keyType: "ec" },
  [OID.sha256WithRSA]: { hash: "sha256", keyType: "rsa" },
  [OID.sha384WithRSA]: { hash: "sha384", keyType: "rsa" },
  [OID.sha512WithRSA]: { hash: "sha512", keyType: "rsa" },
  [OID.ed25519]: { hash: null, keyType: "ed25519" },
};

function bad(message: string, cause?: unknown): TesseraError {
  return new TesseraError("invalid_csr", message, { cause });
}

const ACCEPTED_CURVES = new Set<string>([OID.prime256v1, OID.secp384r1]);
const OTHER_CURVES: Record<string, string> = {
  "1.3.132.0.35": "secp521r1",
  "1.3.132.0.10": "secp256k1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.2.156.10197.1.301": "SM2",
};
const OTHER_KEY_TYPES: Record<string, string> = {
  "1.2.840.10040.4.1": "dsa",
  "1.2.840.113549.1.3.1": "dh",
  "1.2.840.10046.2.1": "dh",
  "1.3.101.110": "x25519",
  "1.3.101.111": "x448",
  "1.3.101.113": "ed448",
  "1.2.840.113549.1.1.10": "rsa-pss",
};

/**
 * Refuses, from the SubjectPublicKeyInfo's DER alone, every key type and
 * curve a workload may not use, so that none of them reaches OpenSSL: Node 20
 * aborts the whole process when asked for the details of some keys OpenSSL
 * does import (a DSA key with a negative public value; an EC point at
 * infinity, which publicKeyFromSpki refuses).
 */
function checkKeyAlgorithm(spki: Buffer): void {
  let parts: SpkiParts;
  try {
    parts = spkiParts(spki);
  } catch (e) {
    if (e instanceof DerError) throw bad(`CSR public key cannot be decoded: ${e.message}`, e);
    throw e;
  }
  const { algorithm, curve } = parts;
  if (algorithm === OID.ecPublicKey) {
    if (curve !== undefined && ACCEPTED_CURVES.has(curve)) return;
    const name = curve === undefined ? "given by explicit parameters" : (OTHER_CURVES[curve] ?? curve);
    throw new TesseraError("unsupported_key", `EC curve ${name} is not accepted; use P-256 or P-384`);
  }
  if (algorithm === OID.ed25519 || algorithm === OID.rsaEncryption) return;
  throw new TesseraError("unsupported_key", `key type ${OTHER_KEY_TYPES[algorithm] ?? algorithm} is not accepted`);
}

/** Accepted workload keys: P-256, P-384, Ed25519, RSA 2048–8192 bits. */
export function checkWorkloadKey(key: KeyObject): void {
  // details only for the types that need them (see checkKeyAlgorithm)
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1" || curve === "secp384r1") return;
      throw new TesseraError("unsupported_key", `EC curve ${curve ?? "?"} is not accepted; use P-256 or P-384`);
    }
    case "ed25519":
      return;
    case "rsa": {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw new TesseraError("unsupported_key", `RSA key of ${bits} bits is too small; at least 2048 required`);
      if (bits > 8192) throw new TesseraError("unsupported_key", `RSA key of ${bits} bits is too large; at most 8192`);
      return;
    }
    default:
      throw new TesseraError("unsupported_key", `key type ${key.asymmetricKeyType ?? "?"} is not accepted`);
  }
}

/**
 * Parses a PKCS#10 request (PEM or DER) and checks proof of possession: the
 * request must be signed by the key it carries. Only the public key is used;
 * subject, SANs and any requested extensions are ignored by design, since the
 * identity comes from attestation alone.
 */
export function parseCsr(input: string | Buffer): ParsedCsr {
  const csr = withKey(decodeCsr(input), publicKeyFromSpki);
  return checked(csr, verifyHere(csr));
}

/**
 * `parseCsr` for the hot path: the same checks and answers, with EC keys
 * imported the cheaper way (publicKeyFromSpkiToVerify) and the signature
 * checked on the calling thread (a crypto thread, or an event loop with no
 * core to spare).
 */
export async function parseCsrHere(input: string | Buffer): Promise<ParsedCsr> {
  const csr = await withKeyAsync(decodeCsr(input));
  return checked(csr, verifyHere(csr));
}

const verifyAsync = promisify(verify);

/**
 * `parseCsr`, with the signature check run on libuv's thread pool: the
 * event loop goes on serving other connections meanwhile, and a single
 * server process gets the use of a second core for the costliest step.
 */
export async function parseCsrAsync(input: string | Buffer): Promise<ParsedCsr> {
  const csr = await withKeyAsync(decodeCsr(input));
  let ok = false;
  try {
    ok = await verifyAsync(csr.hash, csr.info, csr.publicKey, csr.signature);
  } catch (e) {
    throw bad("CSR signature cannot be verified", e);
  }
  return checked(csr, ok);
}

function verifyHere(csr: DecodedCsr): boolean {
  try {
    return verify(csr.hash, csr.info, csr.publicKey, csr.signature);
  } catch (e) {
    throw bad("CSR signature cannot be verified", e);
  }
}

interface DecodedCsr {
  info: Buffer;
  spki: Buffer;
  publicKey: KeyObject;
  hash: string | null;
  signature: Buffer;
}

function checked(csr: DecodedCsr, ok: boolean): ParsedCsr {
  if (!ok) throw bad("CSR signature does not verify: no proof of possession of the key");
  return { spki: Buffer.from(csr.spki), publicKey: csr.publicKey, isRsa: csr.publicKey.asymmetricKeyType === "rsa" };
}

/** The request's structure, size and parts; its key and algorithm are checked by withKey. */
function decodeCsr(input: string | Buffer): CsrParts {
  const der =
    typeof input === "string" ? pemDecodeOne(input, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"], "invalid_csr") : input;
  if (der.length > MAX_CSR_BYTES) throw bad(`CSR is larger than ${MAX_CSR_BYTES} bytes`);
  let info: Buffer;
  let spki: Buffer;
  let algorithm: string;
  let signature: Buffer;
  try {
    const outer = readWhole(der, Tag.SEQUENCE, "CertificationRequest");
    const [cri, sigAlg, sigBits, ...extra] = children(outer, der);
    if (!cri || !sigAlg || !sigBits || extra.length > 0) throw new DerError("CertificationRequest must have three parts");
    if (cri.tag !== Tag.SEQUENCE || sigAlg.tag !== Tag.SEQUENCE) throw new DerError("bad CertificationRequest");
    const [version, subject, keyInfo, attributes, ...more] = children(cri, der);
    if (!version || !subject || !keyInfo || !attributes || more.length > 0) {
      throw new DerError("CertificationRequestInfo must have four parts");
    }
    if (version.tag !== Tag.INTEGER || version.content.length !== 1 || version.content[0] !== 0) {
      throw new DerError("CSR version must be 1 (0)");
    }
    if (subject.tag !== Tag.SEQUENCE || keyInfo.tag !== Tag.SEQUENCE || attributes.tag !== 0xa0) {
      throw new DerError("bad CertificationRequestInfo");
    }
    children(subject, der); // must itself be well-formed
    children(attributes, der);
    const algOid = expectTlv(der, sigAlg.contentStart, sigAlg.end, Tag.OID, "signatureAlgorithm");
    algorithm = decodeOid(algOid.content);
    signature = bitStringBytes(sigBits);
    info = cri.raw;
    spki = keyInfo.raw;
  } catch (e) {
    if (e instanceof DerError) throw bad(`malformed CSR: ${e.message}`, e);
    throw e;
  }

  return { info, spki, algorithm, signature };
}

interface CsrParts {
  info: Buffer;
  spki: Buffer;
  algorithm: string;
  signature: Buffer;
}

/** The parts with their key imported by `importKey`, once the key and the signature algorithm are accepted. */
function withKey(parts: CsrParts, importKey: (spki: Buffer) => KeyObject): DecodedCsr {
  checkKeyAlgorithm(parts.spki);
  let publicKey: KeyObject;
  try {
    publicKey = importKey(parts.spki);
  } catch (e) {
    throw bad("CSR public key cannot be decoded", e);
  }
  return accepted(parts, publicKey);
}

async function withKeyAsync(parts: CsrParts): Promise<DecodedCsr> {
  checkKeyAlgorithm(parts.spki);
  const publicKey = await publicKeyFromSpkiToVerify(parts.spki).catch((e: unknown) => {
    throw bad("CSR public key cannot be decoded", e);
  });
  return accepted(parts, publicKey);
}

function accepted(parts: CsrParts, publicKey: KeyObject): DecodedCsr {
  checkWorkloadKey(publicKey);
  const alg = SIGNATURE_HASH[parts.algorithm];
  if (!alg) throw bad(`CSR signature algorithm ${parts.algorithm} is not accepted`);
  if (alg.keyType !== publicKey.asymmetricKeyType) throw bad("CSR signature algorithm does not match its key");
  return { info: parts.info, spki: parts.spki, publicKey, hash: alg.hash, signature: parts.signature };
}
