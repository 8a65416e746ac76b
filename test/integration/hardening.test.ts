import { readFileSync } from "node:fs";
import { type AddressInfo, createServer as createNetServer, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import type { ListenerName } from "../../src/connection-balancer.js";
import { spawnTracked } from "../helpers/children.js";
import { call } from "../helpers/https-client.js";
import { opensslCsr } from "../helpers/openssl.js";
import { runCli, spawnServe, startTestServer, type TestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function sClient(port: number, args: string[], input: string, holdMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawnTracked("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, ...args], { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stdin.write(input);
    setTimeout(() => child.stdin.end(), holdMs);
    child.on("exit", () => resolve(out));
  });
}

describe("TLS posture", () => {
  it("refuses a client-initiated renegotiation on TLS 1.2", async () => {
    const dataDir = `${tmp.dir}/reneg`;
    const serve = await spawnServe(["--data-dir", dataDir]);
    try {
      const port = Number(new URL(serve.apiUrl).port);
      const out = await sClient(port, ["-tls1_2", "-CAfile", `${dataDir}/bundle.pem`], "R\n", 1000);
      expect(out).toContain("Verify return code: 0 (ok)");
      expect(out).toContain("RENEGOTIATING");
      expect(out).toMatch(/error:.*(unexpected record|unexpected eof|renegotiation|handshake failure)/i);
      const normal = await sClient(
        port,
        ["-tls1_2", "-CAfile", `${dataDir}/bundle.pem`, "-quiet"],
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        1000,
      );
      expect(normal).toContain('{"status":"ok"}');
    } finally {
      await serve.stop();
    }
  });
});

describe("secrets stay secret", () => {
  it("never puts a join token, the passphrase or a private key in a log line, an error message or the audit log", async () => {
    const dataDir = `${tmp.dir}/secrets`;
    const passphrase = "correct-horse-battery-staple-4242";
    const env = { TESSERA_PASSPHRASE: passphrase };
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir], env).status).toBe(0);
    const serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"], { ...env, TESSERA_LOG_LEVEL: "debug" });
    const outputs: string[] = [];
    const secrets: string[] = [passphrase];
    try {
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      const token = runCli(
        ["token", "create", "--spiffe-id", "spiffe://example.org/s", "--data-dir", dataDir],
        env,
      ).stdout.trim();
      const spare = runCli(
        ["token", "create", "--spiffe-id", "spiffe://example.org/t", "--data-dir", dataDir],
        env,
      ).stdout.trim();
      secrets.push(token, spare);
      const { csrPem, keyPem } = opensslCsr(tmp.dir);
      secrets.push(keyPem.split("\n")[1] as string); // a line of the workload's private key
      // successes and failures of every kind, with the secrets in play
      const ok = await call(`${serve.apiUrl}/v1/svid/x509`, {
        ca: bundle,
        body: { csr: csrPem, attestation: { type: "join_token", token } },
      });
      expect(ok.status).toBe(201);
      const replies = await Promise.all([
        call(`${serve.apiUrl}/v1/svid/x509`, { ca: bundle, body: { csr: csrPem, attestation: { type: "join_token", token } } }),
        call(`${serve.apiUrl}/v1/svid/x509`, {
          ca: bundle,
          body: { csr: "garbage", attestation: { type: "join_token", token: spare } },
        }),
        call(`${serve.apiUrl}/v1/svid/x509`, {
          ca: bundle,
          body: { csr: csrPem, attestation: { type: "join_token", token: `${spare}x` } },
        }),
        call(`${serve.apiUrl}/v1/svid/x509`, { ca: bundle, body: { csr: csrPem, attestation: { type: "jwt", token: spare } } }),
        call(`${serve.apiUrl}/v1/svid/x509`, {
          ca: bundle,
          rawBody: `{"csr": "${spare}`,
          headers: { "content-type": "application/json" },
        }),
      ]);
      for (const r of replies) {
        expect(r.status).toBeGreaterThanOrEqual(400);
        outputs.push(r.text());
      }
      outputs.push(runCli(["revoke", "--spiffe-id", "spiffe://example.org/s", "--data-dir", dataDir], env).stdout);
      outputs.push(runCli(["crl", "--pem", "--data-dir", dataDir], { TESSERA_PASSPHRASE: "wrong-passphrase-1234" }).stderr);
      outputs.push(JSON.stringify(JSON.parse(runCli(["audit", "list", "--json", "--data-dir", dataDir]).stdout)));
      await waitFor(
        async () =>
          serve.logs().some((l) => (l.audit as { action?: string } | undefined)?.action === "cert.revoke") ? true : undefined,
        3000,
      );
    } finally {
      await serve.stop();
    }
    const logs = serve.logs();
    expect(logs.length).toBeGreaterThan(3);
    outputs.push(JSON.stringify(logs), serve.banner);
    const everything = outputs.join("\n");
    for (const secret of secrets) expect(everything.includes(secret), `secret leaked: ${secret.slice(0, 6)}…`).toBe(false);
    expect(everything).not.toContain("PRIVATE KEY");
    const masterKey = readFileSync(`${dataDir}/tessera.db`);
    expect(masterKey.includes(Buffer.from(passphrase))).toBe(false);
  });
});

/** Writes `send` on a fresh connection, then holds it open; resolves with all it got back once the server closes it. */
function heldOpen(url: string, tls: { ca: string } | undefined, send: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ host: hostname, port: Number(port), ca: tls.ca, servername: "localhost" }, () => socket.write(send))
      : tcpConnect({ host: hostname, port: Number(port) }, () => socket.write(send));
    let got = "";
    socket.on("data", (d: Buffer) => {
      got += d.toString();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

/** A raw HTTP response that is a JSON error with this status and code, closing the connection. */
function expectJsonError(raw: string, status: number, code: string): void {
  expect(raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  const [head, body] = raw.split("\r\n\r\n");
  expect(head).toMatch(/\r\ncontent-type: application\/json/i);
  expect(head).toMatch(/\r\nconnection: close/i);
  expect(JSON.parse(body ?? "")).toEqual({ error: { code, message: expect.any(String) } });
}

describe("requests Node cannot parse", () => {
  it("rejects/a malformed request line or oversized headers with a JSON error, on both listeners, and keeps serving", async () => {
    const server = await startTestServer({});
    try {
      const tls = { ca: server.bundle };
      const huge = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${"a".repeat(64 * 1024)}\r\n\r\n`;
      const [garbage, overflow, plainGarbage, plainOverflow] = await Promise.all([
        heldOpen(server.apiUrl, tls, "HELLO THERE\r\n\r\n"),
        heldOpen(server.apiUrl, tls, huge),
        heldOpen(server.publicUrl, undefined, "GET /v1/crl HTTP/9.Z\r\n\r\n"),
        heldOpen(server.publicUrl, undefined, huge),
      ]);
      expectJsonError(garbage, 400, "bad_request");
      expectJsonError(overflow, 431, "headers_too_large");
      expectJsonError(plainGarbage, 400, "bad_request");
      expectJsonError(plainOverflow, 431, "headers_too_large");
      expect((await server.request("/healthz")).status).toBe(200);
      const metrics = (await server.request("/metrics")).text();
      expect(metrics).toMatch(/tessera_http_errors_total\{code="headers_too_large"\} [1-9]/);
    } finally {
      await server.stop();
    }
  });
});

/** The slow-client checks against the listeners at `api` and `publicUrl` of `server`. */
async function stallsAreCutOff(server: TestServer, api: string, publicUrl: string): Promise<void> {
  const before = (await server.request("/metrics")).text();
  const head = "POST /v1/svid/x509 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
  const stalled = Promise.all([
    // a TCP connection that never says hello
    heldOpen(api, undefined, ""),
    // a TLS connection that never sends a request
    heldOpen(api, { ca: server.bundle }, ""),
    // half the headers, over TLS
    heldOpen(api, { ca: server.bundle }, head),
    // the headers and a tenth of the body it announced
    heldOpen(api, { ca: server.bundle }, `${head}Content-Length: 100\r\n\r\n{"csr":"`),
    // the plain-HTTP CRL listener too
    heldOpen(publicUrl, undefined, "GET /v1/crl HTTP/1.1\r\nHost: x\r\n"),
  ]);
  expect((await call(`${api}/healthz`, { ca: server.bundle })).status).toBe(200);
  const [hello, silent, headers, body, plain] = await stalled;
  expect(hello).toBe("");
  for (const got of [silent, headers, body, plain]) expectJsonError(got, 408, "request_timeout");
  // nothing was issued for the half-sent request
  const issued = (text: string) => /tessera_svid_issued_total\{type="x509"\} (\d+)/.exec(text)?.[1] ?? "0";
  expect(issued((await server.request("/metrics")).text())).toBe(issued(before));
}

describe("slow clients", () => {
  it("rejects/closes connections that stall in the TLS handshake, before a request, in the headers or in the body, and serves others meanwhile", async () => {
    const server = await startTestServer({ config: { slowClientTimeoutMs: 300 } });
    try {
      await stallsAreCutOff(server, server.apiUrl, server.publicUrl);
    } finally {
      await server.stop();
    }
  });

  it("rejects/the same stalls on connections accepted elsewhere and handed over, as a worker gets them from its supervisor", async () => {
    const server = await startTestServer({ config: { slowClientTimeoutMs: 300 } });
    // what a worker does with a socket its supervisor accepted (there unread; here it arrives
    // as a worker's does, a socket reading from its descriptor): hand it to the server
    const handing = (listener: ListenerName) => createNetServer((s) => server.accept(listener, s));
    const acceptors = [handing("api"), handing("public")];
    try {
      const [api, publicUrl] = await Promise.all(
        acceptors.map(
          (a, i) =>
            new Promise<string>((resolve) =>
              a.listen(0, "127.0.0.1", () =>
                resolve(`${i === 0 ? "https" : "http"}://127.0.0.1:${(a.address() as AddressInfo).port}`),
              ),
            ),
        ),
      );
      await stallsAreCutOff(server, api as string, publicUrl as string);
      expect((await call(`${publicUrl}/v1/crl.pem`)).text()).toContain("BEGIN X509 CRL");
    } finally {
      for (const a of acceptors) a.close();
      await server.stop();
    }
  });
});
