import { children, DerError, decodeOid, readWhole, Tag, type Tlv } from "../der/der-reader.js";
import { OID } from "../der/oids.js";

/** The URI subtrees of a CA certificate's name constraints (RFC 5280 §4.2.1.10). */
export interface UriConstraints {
  permitted: string[];
  excluded: string[];
}

const EXTENSIONS = 0xa3;
const PERMITTED = 0xa0;
const EXCLUDED = 0xa1;
const URI_NAME = 0x86;

function uriSubtrees(list: Tlv | undefined, source: Buffer): string[] {
  if (!list) return [];
  return children(list, source)
    .map((subtree) => children(subtree, source)[0])
    .filter((base): base is Tlv => base?.tag === URI_NAME)
    .map((base) => base.content.toString("latin1").toLowerCase());
}

/** The URI name constraints a DER certificate carries, or undefined if it has none. */
export function uriConstraintsOf(der: Buffer): UriConstraints | undefined {
  const cert = readWhole(der, Tag.SEQUENCE, "Certificate");
  const [tbs] = children(cert, der);
  if (!tbs) throw new DerError("Certificate without TBSCertificate");
  const extensions = children(tbs, der).find((f) => f.tag === EXTENSIONS);
  if (!extensions) return undefined;
  const [list] = children(extensions, der);
  if (!list) return undefined;
  for (const ext of children(list, der)) {
    const [oid, ...rest] = children(ext, der);
    if (!oid || decodeOid(oid.content) !== OID.nameConstraints) continue;
    const value = rest.at(-1);
    if (!value || value.tag !== Tag.OCTET_STRING) throw new DerError("malformed name constraints extension");
    const inner = readWhole(value.content, Tag.SEQUENCE, "NameConstraints");
    const parts = children(inner, value.content);
    return {
      permitted: uriSubtrees(
        parts.find((p) => p.tag === PERMITTED),
        value.content,
      ),
      excluded: uriSubtrees(
        parts.find((p) => p.tag === EXCLUDED),
        value.content,
      ),
    };
  }
  return undefined;
}

/** RFC 5280: a URI constraint names a host, or with a leading period any host below a domain. */
function hostMatches(host: string, constraint: string): boolean {
  if (constraint.startsWith(".")) return host.endsWith(constraint) && host.length > constraint.length;
  return host === constraint;
}

/** Why `uri` violates `constraints`, or undefined when it satisfies them. */
export function uriConstraintViolation(uri: string, constraints: UriConstraints): string | undefined {
  const host = new URL(uri).hostname.toLowerCase();
  if (constraints.permitted.length > 0 && !constraints.permitted.some((c) => hostMatches(host, c))) {
    return `${uri} is outside the issuer's permitted names`;
  }
  if (constraints.excluded.some((c) => hostMatches(host, c))) return `${uri} is in the issuer's excluded names`;
  return undefined;
}
