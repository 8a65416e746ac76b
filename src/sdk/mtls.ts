import type { IncomingMessage, RequestListener } from "node:http";
import { Agent, createServer, type Server } from "node:https";
import type { PeerCertificate, SecureContextOptions, TLSSocket } from "node:tls";
import { TLS_CIPHERS } from "../http/tls.js";
import type { IdentitySource, X509Identity } from "./identity-source.js";
import { spiffeIdOf } from "./spiffe-id-of.js";

/** Decides whether a peer with this SPIFFE ID may talk to us. */
export type Authorizer = (spiffeId: string) => boolean;

/** Any peer with a valid SVID of a trusted root. */
export const authorizeAny = (): Authorizer => () => true;

/** Only these exact SPIFFE IDs. */
export const authorizeId =
  (...ids: string[]): Authorizer =>
  (id) =>
    ids.includes(id);

/** Any SPIFFE ID in this trust domain. */
export const authorizeMemberOf =
  (trustDomain: string): Authorizer =>
  (id) =>
    id.startsWith(`spiffe://${trustDomain}/`);

/** SPIFFE IDs under a path prefix, e.g. `spiffe://example.org/payments/` (segment-aligned). */
export const authorizePathPrefix = (prefix: string): Authorizer => {
  const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return (id) => id === base.slice(0, -1) || id.startsWith(base);
};

function contextOptions(identity: X509Identity): SecureContextOptions {
  return {
    key: identity.keyPem,
    cert: identity.certChainPem,
    ca: identity.bundlePem,
    minVersion: "TLSv1.2",
    ciphers: TLS_CIPHERS,
  };
}

/** The SPIFFE ID the peer of this request (or socket) authenticated with. */
export function peerSpiffeId(from: IncomingMessage | TLSSocket): string | undefined {
  const socket = ("socket" in from ? from.socket : from) as TLSSocket;
  const cert = socket.getPeerCertificate?.();
  return cert && "subjectaltname" in cert ? spiffeIdOf(cert) : undefined;
}

/**
 * An HTTPS server that requires a client X.509-SVID chaining to the bundle
 * and lets in only peers the authorizer accepts. When the identity source
 * rotates, the new certificate and bundle apply to new handshakes; open
 * connections carry on undisturbed.
 */
export function createMtlsServer(source: IdentitySource, options: { authorize: Authorizer }, listener: RequestListener): Server {
  const server = createServer({ ...contextOptions(source.current()), requestCert: true, rejectUnauthorized: true }, listener);
  server.on("secureConnection", (socket: TLSSocket) => {
    const id = peerSpiffeId(socket);
    if (!id || !options.authorize(id)) socket.destroy();
  });
  const onUpdate = (identity: X509Identity) => server.setSecureContext(contextOptions(identity));
  source.on("update", onUpdate);
  server.on("close", () => source.off("update", onUpdate));
  return server;
}

/**
 * An HTTPS client identity: an Agent presenting the current SVID that accepts
 * only servers whose SVID the authorizer accepts (SPIFFE authentication
 * replaces host-name checks). A rotation swaps in a new Agent; requests in
 * flight finish on the old one.
 */
export class MtlsClient {
  private current: Agent;
  private readonly onUpdate = (identity: X509Identity) => {
    const old = this.current;
    this.current = this.build(identity);
    setTimeout(() => old.destroy(), 30_000).unref();
  };

  constructor(
    private readonly source: IdentitySource,
    private readonly options: { authorize: Authorizer; keepAlive?: boolean },
  ) {
    this.current = this.build(source.current());
    source.on("update", this.onUpdate);
  }

  private build(identity: X509Identity): Agent {
    return new Agent({
      ...contextOptions(identity),
      keepAlive: this.options.keepAlive ?? true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const id = spiffeIdOf(cert);
        if (!id) return new Error("server certificate is not an X.509-SVID");
        if (!this.options.authorize(id)) return new Error(`server ${id} is not authorized`);
        return undefined;
      },
    });
  }

  /** The https.Agent to pass to `https.request` (it changes on rotation: fetch it per request). */
  get agent(): Agent {
    return this.current;
  }

  close(): void {
    this.source.off("update", this.onUpdate);
    this.current.destroy();
  }
}
