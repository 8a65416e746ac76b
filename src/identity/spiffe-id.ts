import { TesseraError } from "../errors.js";

/** A validated SPIFFE ID, `spiffe://<trust-domain>/<path>`. */
export interface SpiffeId {
  trustDomain: string;
  /** Path with leading slash, or "" for the trust domain's own ID. */
  path: string;
  toString(): string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_LENGTH = 2048;

function invalid(message: string): TesseraError {
  return new TesseraError("invalid_spiffe_id", message);
}

/** Validates a trust domain name per the SPIFFE ID specification. */
export function parseTrustDomain(name: string): string {
  if (name.length === 0) throw invalid("trust domain is empty");
  if (name.length > 255) throw invalid("trust domain is longer than 255 characters");
  if (!TRUST_DOMAIN.test(name)) {
    throw invalid(`trust domain "${name.slice(0, 64)}" may contain only lower-case letters, digits, ".", "-" and "_"`);
  }
  return name;
}

/**
 * Parses and validates a SPIFFE ID. Rejects upper-case or odd characters in the
 * trust domain, ports, userinfo, queries, fragments, empty, "." and ".." path
 * segments, trailing slashes and percent-encoding.
 */
export function parseSpiffeId(text: string, options: { allowRoot?: boolean } = {}): SpiffeId {
  if (typeof text !== "string" || text.length === 0) throw invalid("SPIFFE ID is empty");
  if (text.length > MAX_LENGTH) throw invalid("SPIFFE ID is longer than 2048 bytes");
  if (!text.startsWith("spiffe://")) throw invalid(`SPIFFE ID must start with "spiffe://"`);
  const rest = text.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash);
  if (trustDomain.includes("@")) throw invalid("SPIFFE ID must not contain userinfo");
  if (trustDomain.includes(":")) throw invalid("SPIFFE ID must not contain a port");
  parseTrustDomain(trustDomain);
  if (path === "" && !options.allowRoot) throw invalid("SPIFFE ID needs a path");
  if (path !== "") {
    if (/[?#]/.test(path)) throw invalid("SPIFFE ID must not contain a query or fragment");
    const segments = path.slice(1).split("/");
    for (const segment of segments) {
      if (segment === "") throw invalid("SPIFFE ID path must not contain empty segments or a trailing slash");
      if (segment === "." || segment === "..") throw invalid("SPIFFE ID path must not contain . or .. segments");
      if (!PATH_SEGMENT.test(segment)) {
        throw invalid("SPIFFE ID path may contain only letters, digits, '.', '-' and '_'");
      }
    }
  }
  const value = `spiffe://${trustDomain}${path}`;
  return { trustDomain, path, toString: () => value };
}

/** Parses a SPIFFE ID and requires it to belong to `trustDomain`. */
export function parseSpiffeIdIn(text: string, trustDomain: string): SpiffeId {
  const id = parseSpiffeId(text);
  if (id.trustDomain !== trustDomain) {
    throw invalid(`SPIFFE ID ${text} is not in trust domain ${trustDomain}`);
  }
  return id;
}
