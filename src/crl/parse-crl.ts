import { type KeyObject, verify } from "node:crypto";
import { bitStringBytes, children, DerError, decodeOid, expectTlv, readWhole, Tag, type Tlv } from "../der/der-reader.js";
import { OID } from "../der/oids.js";

export interface ParsedCrl {
  /** DER Name of the issuer. */
  issuerName: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Revoked serials, lower-case hex without sign byte. */
  revoked: Set<string>;
  /** Checks the CRL's signature with a candidate issuer key. */
  verifySignature(issuerKey: KeyObject): boolean;
}

const HASH: Record<string, string | null> = {
  [OID.ecdsaWithSHA256]: "sha256",
  [OID.ecdsaWithSHA384]: "sha384",
  [OID.ecdsaWithSHA512]: "sha512",
  [OID.sha256WithRSA]: "sha256",
  [OID.sha384WithRSA]: "sha384",
  [OID.sha512WithRSA]: "sha512",
  [OID.ed25519]: null,
};

function parseTime(t: Tlv): Date {
  const s = t.content.toString("latin1");
  const m =
    t.tag === Tag.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === Tag.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new DerError("bad time");
  let year = Number(m[1]);
  if (t.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

const isTime = (t: Tlv | undefined) => t !== undefined && (t.tag === Tag.UTC_TIME || t.tag === Tag.GENERALIZED_TIME);

/** Parses a DER CRL (RFC 5280 §5.1). Throws DerError on anything malformed. */
export function parseCrl(der: Buffer): ParsedCrl {
  const outer = readWhole(der, Tag.SEQUENCE, "CertificateList");
  const [tbs, sigAlg, sigBits] = children(outer, der);
  if (!tbs || !sigAlg || !sigBits || tbs.tag !== Tag.SEQUENCE) throw new DerError("CertificateList must have three parts");
  const fields = children(tbs, der);
  let i = fields[0]?.tag === Tag.INTEGER ? 1 : 0;
  i++; // inner signature algorithm
  const issuer = fields[i++];
  const thisUpdate = fields[i++];
  if (!issuer || issuer.tag !== Tag.SEQUENCE || !thisUpdate || !isTime(thisUpdate)) throw new DerError("bad TBSCertList");
  let nextUpdate: Date | undefined;
  if (isTime(fields[i])) nextUpdate = parseTime(fields[i++] as Tlv);
  const revoked = new Set<string>();
  const list = fields[i];
  if (list && list.tag === Tag.SEQUENCE) {
    for (const entry of children(list, der)) {
      const serial = expectTlv(der, entry.contentStart, entry.end, Tag.INTEGER, "userCertificate");
      const from =
        serial.end - serial.contentStart > 1 && der[serial.contentStart] === 0 ? serial.contentStart + 1 : serial.contentStart;
      revoked.add(der.toString("hex", from, serial.end));
    }
  }
  const alg = decodeOid(expectTlv(der, sigAlg.contentStart, sigAlg.end, Tag.OID, "signatureAlgorithm").content);
  if (!(alg in HASH)) throw new DerError(`unsupported CRL signature algorithm ${alg}`);
  const signature = bitStringBytes(sigBits);
  const tbsRaw = Buffer.from(tbs.raw);
  return {
    issuerName: Buffer.from(issuer.raw),
    thisUpdate: parseTime(thisUpdate),
    nextUpdate,
    revoked,
    verifySignature: (key) => {
      try {
        return verify(HASH[alg] ?? null, tbsRaw, key, signature);
      } catch {
        return false;
      }
    },
  };
}
