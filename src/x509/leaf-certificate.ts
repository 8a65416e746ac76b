import { keyIdentifierOf } from "../crypto/key-identifier.js";
import { OID } from "../der/oids.js";
import { TesseraError } from "../errors.js";
import { assembleCertificate, encodeTbs } from "./certificate.js";
import { parseCsrAsync, parseCsrHere } from "./csr.js";
import {
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  distinguishedName,
  extKeyUsage,
  KeyUsage,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from "./extensions.js";

/**
 * What every X.509-SVID of one issuing CA shares, encoded once. Plain bytes,
 * so a crypto thread can be handed it once and build leaves itself.
 */
export interface LeafTemplate {
  issuerName: Uint8Array;
  subjectName: Uint8Array;
  /** DER AlgorithmIdentifier of the issuing key's signatures. */
  signatureAlgorithm: Uint8Array;
  basicConstraints: Uint8Array;
  keyUsageEc: Uint8Array;
  /** RSA keys also get keyEncipherment. */
  keyUsageRsa: Uint8Array;
  extKeyUsage: Uint8Array;
  authorityKeyIdentifier: Uint8Array;
  crlDistributionPoint: Uint8Array;
}

/** What differs from one leaf to the next, apart from its key. */
export interface LeafFields {
  spiffeId: string;
  dnsNames: string[];
  ipAddresses?: string[];
  serial: Uint8Array;
  /** Milliseconds since the epoch, whole seconds. */
  notBefore: number;
  notAfter: number;
}

export function leafTemplate(issuerName: Buffer, signatureAlgorithm: Buffer, issuerKeyId: Buffer, crlUrl: string): LeafTemplate {
  return {
    issuerName,
    subjectName: distinguishedName([["O", "Tessera"]]),
    signatureAlgorithm,
    basicConstraints: basicConstraints(false),
    keyUsageEc: keyUsage([KeyUsage.digitalSignature]),
    keyUsageRsa: keyUsage([KeyUsage.digitalSignature, KeyUsage.keyEncipherment]),
    extKeyUsage: extKeyUsage([OID.serverAuth, OID.clientAuth]),
    authorityKeyIdentifier: authorityKeyIdentifier(issuerKeyId),
    crlDistributionPoint: crlDistributionPoint(crlUrl),
  };
}

const buf = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/** A template that crossed to another thread (its Buffers arrive as Uint8Arrays), as Buffers again, once. */
export function receivedTemplate(t: LeafTemplate): LeafTemplate {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, buf(v as Uint8Array)])) as unknown as LeafTemplate;
}

/** The TBSCertificate of a leaf for the key `spki` (the X.509-SVID profile of SPEC §4). */
export function leafTbs(t: LeafTemplate, f: LeafFields, spki: Buffer, isRsa: boolean): Buffer {
  return encodeTbs(
    {
      serial: buf(f.serial),
      issuerName: buf(t.issuerName),
      subjectName: buf(t.subjectName),
      notBefore: new Date(f.notBefore),
      notAfter: new Date(f.notAfter),
      spki,
      extensions: [
        buf(t.basicConstraints),
        buf(isRsa ? t.keyUsageRsa : t.keyUsageEc),
        buf(t.extKeyUsage),
        subjectKeyIdentifier(keyIdentifierOf(spki)),
        buf(t.authorityKeyIdentifier),
        subjectAltName({ uris: [f.spiffeId], dns: f.dnsNames, ips: f.ipAddresses ?? [] }),
        buf(t.crlDistributionPoint),
      ],
    },
    buf(t.signatureAlgorithm),
  );
}

/** The certificate: `tbs` made by leafTbs with template `t`, and its signature. */
export function assembleLeaf(t: LeafTemplate, tbs: Buffer, signature: Buffer): Buffer {
  return assembleCertificate(tbs, buf(t.signatureAlgorithm), signature);
}

/** A CSR that cannot be used is always an invalid_csr TesseraError, whatever went wrong in it. */
function unusable(e: unknown): TesseraError {
  return e instanceof TesseraError ? e : new TesseraError("invalid_csr", "CSR cannot be parsed", { cause: e });
}

/**
 * A leaf for the key of a PKCS#10 request, once the request proves
 * possession of it (its signature checked on libuv's pool); `sign` signs
 * the TBSCertificate.
 */
export async function leafForCsrAsync(
  csr: string,
  t: LeafTemplate,
  f: LeafFields,
  sign: (tbs: Buffer) => Promise<Buffer>,
): Promise<Buffer> {
  const { spki, isRsa } = await parseCsrAsync(csr).catch((e: unknown) => {
    throw unusable(e);
  });
  const tbs = leafTbs(t, f, spki, isRsa);
  return assembleLeaf(t, tbs, await sign(tbs));
}

/**
 * `leafForCsrAsync` with the CSR's signature checked and the leaf signed by
 * the calling thread: on a crypto thread, or on an event loop that has no
 * core to hand the work to.
 */
export async function leafForCsr(csr: string, t: LeafTemplate, f: LeafFields, sign: (tbs: Buffer) => Buffer): Promise<Buffer> {
  const { spki, isRsa } = await parseCsrHere(csr).catch((e: unknown) => {
    throw unusable(e);
  });
  const tbs = leafTbs(t, f, spki, isRsa);
  return assembleLeaf(t, tbs, sign(tbs));
}
