import type { Signer } from "../crypto/signer.js";
import { keyIdentifierOf } from "../crypto/signer.js";
import { OID } from "../der/oids.js";
import { newSerial, signCertificate, signCertificateAsync } from "./certificate.js";
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
  uriNameConstraints,
} from "./extensions.js";

/** Clock skew allowance: certificates are valid from 30 s before issuance. */
export const BACKDATE_MS = 30_000;

export interface CaCertificateRequest {
  trustDomain: string;
  notBefore: Date;
  notAfter: Date;
  serial?: Buffer;
}

/** A self-signed root: CA, keyCertSign + cRLSign, SKI. */
export function buildRootCertificate(signer: Signer, req: CaCertificateRequest): Buffer {
  const name = distinguishedName([
    ["O", "Tessera"],
    ["CN", `Tessera Root CA ${req.trustDomain} ${req.notBefore.toISOString().slice(0, 10)}`],
  ]);
  return signCertificate(
    {
      serial: req.serial ?? newSerial(),
      issuerName: name,
      subjectName: name,
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      spki: signer.spki,
      extensions: [
        basicConstraints(true),
        keyUsage([KeyUsage.keyCertSign, KeyUsage.cRLSign]),
        subjectKeyIdentifier(signer.keyIdentifier),
      ],
    },
    signer,
  );
}

export interface Issuer {
  signer: Signer;
  /** DER Name of the issuing certificate's subject. */
  subjectName: Buffer;
}

/**
 * An intermediate issuing CA: pathLenConstraint 0, and name constraints that
 * permit only URIs in the trust domain, so even a compromised intermediate
 * cannot mint identities for other trust domains.
 */
export function buildIntermediateCertificate(
  parent: Issuer,
  subjectSpki: Buffer,
  req: CaCertificateRequest & { label: string },
): Buffer {
  return signCertificate(
    {
      serial: req.serial ?? newSerial(),
      issuerName: parent.subjectName,
      subjectName: distinguishedName([
        ["O", "Tessera"],
        ["CN", `Tessera Issuing CA ${req.trustDomain} ${req.label}`],
      ]),
      notBefore: req.notBefore,
      notAfter: req.notAfter,
      spki: subjectSpki,
      extensions: [
        basicConstraints(true, 0),
        keyUsage([KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign]),
        subjectKeyIdentifier(keyIdentifierOf(subjectSpki)),
        authorityKeyIdentifier(parent.signer.keyIdentifier),
        uriNameConstraints(req.trustDomain),
      ],
    },
    parent.signer,
  );
}

export interface LeafRequest {
  spiffeId: string;
  dnsNames: string[];
  ipAddresses?: string[];
  spki: Buffer;
  isRsa: boolean;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Issues X.509-SVIDs for one issuing CA. The parts every leaf shares are
 * encoded once here; per certificate only the serial, validity, key, SKI and
 * SANs are encoded.
 */
export class LeafIssuer {
  private readonly subjectName = distinguishedName([["O", "Tessera"]]);
  private readonly fixedExtensions: Buffer[];
  private readonly usageEc = keyUsage([KeyUsage.digitalSignature]);
  private readonly usageRsa = keyUsage([KeyUsage.digitalSignature, KeyUsage.keyEncipherment]);

  constructor(
    private readonly issuer: Issuer,
    crlUrl: string,
  ) {
    this.fixedExtensions = [
      basicConstraints(false),
      extKeyUsage([OID.serverAuth, OID.clientAuth]),
      authorityKeyIdentifier(issuer.signer.keyIdentifier),
      crlDistributionPoint(crlUrl),
    ];
  }

  /** Signs on the thread pool (Signer.signX509Async): this is the hot path. */
  issue(req: LeafRequest): Promise<Buffer> {
    const [bc, eku, aki, cdp] = this.fixedExtensions as [Buffer, Buffer, Buffer, Buffer];
    return signCertificateAsync(
      {
        serial: req.serial,
        issuerName: this.issuer.subjectName,
        subjectName: this.subjectName,
        notBefore: req.notBefore,
        notAfter: req.notAfter,
        spki: req.spki,
        extensions: [
          bc,
          req.isRsa ? this.usageRsa : this.usageEc,
          eku,
          subjectKeyIdentifier(keyIdentifierOf(req.spki)),
          aki,
          subjectAltName({ uris: [req.spiffeId], dns: req.dnsNames, ips: req.ipAddresses ?? [] }),
          cdp,
        ],
      },
      this.issuer.signer,
    );
  }
}
