import type { TLSSocket } from "node:tls";
import type { Clock } from "../clock.js";
import { DerError } from "../der/der-reader.js";
import { TesseraError } from "../errors.js";
import type { CertificateRecord, Store } from "../store/store.js";
import { certificateParts } from "../x509/certificate-info.js";

/** A caller authenticated by an X.509-SVID this CA issued. */
export interface PeerIdentity {
  spiffeId: string;
  serial: string;
  notAfter: number;
  /** How the certificate was obtained ("join_token", "jwt", "x509_renewal", "server"). */
  attestation: string;
  entryId: string | null;
}

function unauthenticated(message: string): TesseraError {
  return new TesseraError("unauthenticated", message);
}

interface Presented {
  der: Buffer;
  serial: string;
  /** This CA's record of it, once it has been found to match byte for byte. */
  record?: CertificateRecord;
}

/**
 * A connection's client certificate cannot change (renegotiation is refused),
 * so it is read, parsed and matched against its record once per connection
 * rather than per request: `getPeerCertificate` builds a whole JS object each
 * time. What can change — revocation, expiry — is still checked on every
 * request.
 */
const presentedBySocket = new WeakMap<TLSSocket, Presented | null>();

function presentedCertificate(socket: TLSSocket): Presented | undefined {
  let presented = presentedBySocket.get(socket);
  if (presented === undefined) {
    const raw = socket.getPeerCertificate?.(false)?.raw;
    presented = raw ? { der: raw, serial: serialHex(raw) } : null;
    presentedBySocket.set(socket, presented);
  }
  return presented ?? undefined;
}

function serialHex(der: Buffer): string {
  try {
    const bytes = certificateParts(der).serial;
    return Buffer.from(bytes[0] === 0 && bytes.length > 1 ? bytes.subarray(1) : bytes).toString("hex");
  } catch (e) {
    if (e instanceof DerError) throw unauthenticated("client certificate is malformed");
    throw e;
  }
}

/**
 * Authenticates a mutual-TLS caller. The TLS handshake already proved the
 * caller holds the certificate's key; here the certificate must be one this
 * CA issued and recorded (byte for byte), unexpired by Tessera's clock, and
 * not revoked. Anything signed elsewhere, even by a key chaining to the same
 * root, is refused.
 */
export class X509PeerAuthenticator {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** The caller's identity, or undefined when it presented no certificate. */
  async authenticate(socket: TLSSocket): Promise<PeerIdentity | undefined> {
    const peer = presentedCertificate(socket);
    if (!peer) return undefined;
    let record = peer.record;
    let revokedAt: number | null | undefined;
    if (record) {
      revokedAt = await this.store.revokedAt(peer.serial);
      if (revokedAt === undefined) throw unauthenticated("client certificate was not issued by this CA");
    } else {
      const found = await this.store.getCertificate(peer.serial);
      if (!found?.der.equals(peer.der)) throw unauthenticated("client certificate was not issued by this CA");
      record = peer.record = found;
      revokedAt = found.revokedAt;
    }
    const now = this.clock.now().getTime();
    if (record.notAfter <= now) throw unauthenticated("client certificate has expired");
    if (record.notBefore > now) throw unauthenticated("client certificate is not valid yet");
    if (revokedAt !== null) throw new TesseraError("forbidden", "client certificate has been revoked");
    return {
      spiffeId: record.spiffeId,
      serial: peer.serial,
      notAfter: record.notAfter,
      attestation: record.attestation,
      entryId: record.entryId ?? null,
    };
  }
}
