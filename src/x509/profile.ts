import { keyIdentifierOf } from "../crypto/key-identifier.js";
import type { Signer } from "../crypto/signer.js";
import { newSerial, signCertificate } from "./certificate.js";
import {
  authorityKeyIdentifier,
  basicConstraints,
  distinguishedName,
  KeyUsage,
  keyUsage,
  subjectKeyIdentifier,
  uriNameConstraints,
} from "./extensions.js";
import { assembleLeaf, type LeafFields, type LeafTemplate, leafTbs, leafTemplate } from "./leaf-certificate.js";

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

/** A leaf for a key already in hand (no request to check), such as the CA's own TLS key. */
export interface LeafRequest extends LeafFields {
  spki: Buffer;
  isRsa: boolean;
}

/**
 * Issues X.509-SVIDs for one issuing CA. The parts every leaf shares are
 * encoded once (the template); per certificate only the serial, validity,
 * key, SKI and SANs are encoded.
 */
export class LeafIssuer {
  private readonly template: LeafTemplate;

  constructor(
    private readonly issuer: Issuer,
    crlUrl: string,
  ) {
    this.template = leafTemplate(issuer.subjectName, issuer.signer.algorithmIdentifier, issuer.signer.keyIdentifier, crlUrl);
  }

  /**
   * The hot path: a leaf for the key of `csr` once the request proves
   * possession of it. Checked, encoded and signed off the event loop, in a
   * single trip where the issuer's signatures are offloaded to.
   */
  issueForCsr(csr: string, fields: LeafFields): Promise<Buffer> {
    return this.issuer.signer.leafForCsr(csr, this.template, fields);
  }

  /** A leaf for a key in hand, signed off the event loop. */
  async issue(req: LeafRequest): Promise<Buffer> {
    const tbs = leafTbs(this.template, req, req.spki, req.isRsa);
    return assembleLeaf(this.template, tbs, await this.issuer.signer.signX509Async(tbs));
  }
}
