import type { X509Certificate } from "node:crypto";

/**
 * The SPIFFE ID of an X.509-SVID: its one URI SAN. Undefined if there is
 * none, or more than one (an X.509-SVID has exactly one).
 */
export function spiffeIdOf(cert: Pick<X509Certificate, "subjectAltName"> | { subjectaltname?: string }): string | undefined {
  const san = "subjectAltName" in cert ? cert.subjectAltName : cert.subjectaltname;
  const uris = (san ?? "")
    .split(/,\s*/)
    .filter((n) => n.startsWith("URI:"))
    .map((n) => n.slice(4));
  if (uris.length !== 1 || !uris[0]?.startsWith("spiffe://")) return undefined;
  return uris[0];
}
