import { isIP } from "node:net";
import {
  boolean,
  explicit,
  implicitPrimitive,
  namedBitString,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  utf8String,
} from "../der/der-writer.js";
import { OID } from "../der/oids.js";

/** keyUsage bit numbers (RFC 5280 §4.2.1.3). */
export const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

export function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(objectIdentifier(oid), boolean(true), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(boolean(true));
  if (ca && pathLen !== undefined) parts.push(smallInteger(pathLen));
  return extension(OID.basicConstraints, true, sequence(...parts));
}

export function keyUsage(bits: number[]): Buffer {
  return extension(OID.keyUsage, true, namedBitString(bits));
}

export function extKeyUsage(oids: string[]): Buffer {
  return extension(OID.extKeyUsage, false, sequence(...oids.map(objectIdentifier)));
}

export function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octetString(keyId));
}

export function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyId)));
}

export interface AltNames {
  uris?: string[];
  dns?: string[];
  /** IPv4 or IPv6 literals. */
  ips?: string[];
}

export function generalNames(names: AltNames): Buffer[] {
  const out: Buffer[] = [];
  for (const uri of names.uris ?? []) out.push(implicitPrimitive(6, Buffer.from(uri, "ascii")));
  for (const dns of names.dns ?? []) out.push(implicitPrimitive(2, Buffer.from(dns, "ascii")));
  for (const ip of names.ips ?? []) out.push(implicitPrimitive(7, ipBytes(ip)));
  return out;
}

export function subjectAltName(names: AltNames, critical = false): Buffer {
  return extension(OID.subjectAltName, critical, sequence(...generalNames(names)));
}

export function crlDistributionPoint(url: string): Buffer {
  const fullName = explicit(0, implicitPrimitive(6, Buffer.from(url, "ascii")));
  return extension(OID.cRLDistributionPoints, false, sequence(sequence(explicit(0, fullName))));
}

/**
 * Name constraints permitting only URIs whose host is `trustDomain` (RFC 5280 §4.2.1.10).
 * Per the RFC that already refuses `spiffe://sub.<trustDomain>`, but Go's crypto/x509
 * before the fix for CVE-2026-78665 matches URI constraints like DNS ones, subdomains
 * included; excluding `.<trustDomain>` (subdomains only, in both readings) closes that.
 */
export function uriNameConstraints(trustDomain: string): Buffer {
  const uriSubtree = (host: string) => sequence(implicitPrimitive(6, Buffer.from(host, "ascii")));
  return extension(
    OID.nameConstraints,
    true,
    sequence(explicit(0, uriSubtree(trustDomain)), explicit(1, uriSubtree(`.${trustDomain}`))),
  );
}

/** A Name of UTF8String attributes, e.g. [["O","Tessera"],["CN","x"]]. */
export function distinguishedName(attrs: Array<[string, string]>): Buffer {
  const oidFor: Record<string, string> = { O: OID.organization, CN: OID.commonName };
  return sequence(
    ...attrs.map(([k, v]) => {
      const oid = oidFor[k];
      if (!oid) throw new Error(`unsupported name attribute ${k}`);
      return set(sequence(objectIdentifier(oid), utf8String(v)));
    }),
  );
}

function ipBytes(ip: string): Buffer {
  const kind = isIP(ip);
  if (kind === 4) return Buffer.from(ip.split(".").map(Number));
  if (kind === 6) {
    // WHATWG URL normalisation turns embedded IPv4 (::ffff:1.2.3.4) into hex groups.
    const normal = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
    const [head = "", tail = ""] = normal.includes("::") ? normal.split("::") : [normal, ""];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
    const out = Buffer.alloc(16);
    for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
    return out;
  }
  throw new Error(`not an IP address: ${ip}`);
}
