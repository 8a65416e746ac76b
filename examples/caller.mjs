// Calls the greeter over mutual TLS, accepting only spiffe://example.org/greeter
// as the server, and presents a JWT-SVID for the greeter's audience.
//
//   IDENTITY_DIR=./caller-id TESSERA_URL=https://127.0.0.1:8443 GREETER=https://127.0.0.1:9443 node examples/caller.mjs
import { request } from "node:https";
import { authorizeId, FileIdentitySource, JwtSvidFetcher, MtlsClient } from "tessera";

const GREETER_ID = "spiffe://example.org/greeter";
const identity = await FileIdentitySource.open(process.env.IDENTITY_DIR ?? "./caller-id");
const client = new MtlsClient(identity, { authorize: authorizeId(GREETER_ID), keepAlive: false });
const tokens = new JwtSvidFetcher({ serverUrl: process.env.TESSERA_URL ?? "https://127.0.0.1:8443", source: identity });

const token = await tokens.token(GREETER_ID);
const url = new URL(process.env.GREETER ?? "https://127.0.0.1:9443");
const req = request(
  { host: url.hostname, port: url.port, path: "/", agent: client.agent, headers: { authorization: `Bearer ${token}` } },
  (res) => {
    let body = "";
    res.on("data", (d) => {
      body += d;
    });
    res.on("end", () => {
      process.stdout.write(body);
      client.close();
      identity.close();
      process.exitCode = res.statusCode === 200 ? 0 : 1;
    });
  },
);
req.on("error", (e) => {
  console.error(`call failed: ${e.message}`);
  client.close();
  identity.close();
  process.exitCode = 1;
});
req.end();
