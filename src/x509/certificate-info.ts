import { children, DerError, readWhole, Tag } from "../der/der-reader.js";

/** The parts of a DER certificate Tessera needs to reuse, as views into it. */
export interface CertificateParts {
  serial: Buffer;
  issuerName: Buffer;
  subjectName: Buffer;
  spki: Buffer;
}

/** Splits a DER certificate into the TBS parts Tessera reuses (no signature check). */
export function certificateParts(der: Buffer): CertificateParts {
  const cert = readWhole(der, Tag.SEQUENCE, "Certificate");
  const [tbs] = children(cert, der);
  if (!tbs || tbs.tag !== Tag.SEQUENCE) throw new DerError("Certificate without TBSCertificate");
  const fields = children(tbs, der);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[offset];
  const issuer = fields[offset + 2];
  const subject = fields[offset + 4];
  const spki = fields[offset + 5];
  if (!serial || !issuer || !subject || !spki) throw new DerError("truncated TBSCertificate");
  return { serial: serial.content, issuerName: issuer.raw, subjectName: subject.raw, spki: spki.raw };
}
