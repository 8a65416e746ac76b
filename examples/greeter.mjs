// A service that accepts only spiffe://example.org/caller over mutual TLS, and
// only with a JWT-SVID addressed to it from that same caller.
//
//   IDENTITY_DIR=./greeter-id TESSERA_URL=https://127.0.0.1:8443 PORT=9443 node examples/greeter.mjs
import { authorizeId, createMtlsServer, FileIdentitySource, JwtSvidVerifier, peerSpiffeId, pinnedFetch } from "tessera";

const ME = "spiffe://example.org/greeter";
const CALLER = "spiffe://example.org/caller";
const port = Number(process.env.PORT ?? 9443);

const identity = await FileIdentitySource.open(process.env.IDENTITY_DIR ?? "./greeter-id");
const tokens = new JwtSvidVerifier({
  source: `${process.env.TESSERA_URL ?? "https://127.0.0.1:8443"}/.well-known/jwks.json`,
  audience: ME,
  fetch: pinnedFetch(identity.current().bundlePem),
});

const server = createMtlsServer(identity, { authorize: authorizeId(CALLER) }, async (req, res) => {
  const peer = peerSpiffeId(req);
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  try {
    const token = await tokens.verify(bearer ?? "");
    if (token.spiffeId !== peer) throw new Error("token and TLS identities differ");
    res.writeHead(200, { "content-type": "text/plain" }).end(`hello ${peer}, from ${identity.current().spiffeId}\n`);
  } catch (e) {
    res.writeHead(401, { "content-type": "text/plain" }).end(`unauthorized: ${e.message}\n`);
  }
});

// PORT=0 takes any free port; the line below says which
server.listen(port, "127.0.0.1", () =>
  console.log(`greeter listening on https://127.0.0.1:${server.address().port} as ${identity.current().spiffeId}`),
);
process.on("SIGTERM", () => {
  server.close();
  identity.close();
});
