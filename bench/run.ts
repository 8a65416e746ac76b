/**
 * `npm run bench [-- --quick]`: starts the real server over HTTPS, drives it
 * from a separate process, and prints throughput, latency, CPU and peak RSS
 * for each scenario with the ratio to the targets set in issue 7.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { initializeCa } from "../src/ca/init-ca.js";
import { systemClock } from "../src/clock.js";
import { singleThreadedGc, workerExecArgv, workerMallocEnv } from "../src/cluster.js";
import { generateKeyPair } from "../src/crypto/key-types.js";
import { Signer } from "../src/crypto/signer.js";
import { dataFiles } from "../src/data-dir.js";
import { createJoinToken } from "../src/flows/create-join-token.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { buildCsr } from "../src/x509/build-csr.js";
import { pemEncode } from "../src/x509/pem.js";
import { type CrlBuildFigures, STEADY_REBUILDS } from "./crl-build.js";
import type { LoadJob, LoadResult } from "./load.js";
import { peakRssMiB } from "./proc-stats.js";

const quick = process.argv.includes("--quick");
/**
 * Unmeasured requests before each measured run at concurrency: V8 takes a few
 * thousand requests per server process to compile the request path (with
 * 2,000, --quick put two workers at ~2,800 X.509-SVIDs/s against ~3,900 with
 * 8,000, the rate of the full runs). BENCH_WARMUP overrides it.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 8_000);
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const CLI = fileURLToPath(new URL("../cli/index.js", import.meta.url));
const LOAD = fileURLToPath(new URL("./load.js", import.meta.url));
const CRL_BUILD = fileURLToPath(new URL("./crl-build.js", import.meta.url));
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "tessera-bench-"));
const rows: string[][] = [];

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function row(
  name: string,
  figure: string,
  p50: string,
  p99: string,
  cpu: string,
  rss: string,
  target: string,
  ratio: string,
): void {
  rows.push([name, figure, p50, p99, cpu, rss, target, ratio]);
  const latency = p50 ? ` (p50 ${p50}, p99 ${p99})` : "";
  log(`${name}: ${figure}${latency}${ratio ? ` target ${target} → ${ratio}` : ""}`);
}

async function freshDataDir(name: string): Promise<string> {
  const dir = join(work, name);
  await initializeCa(
    dir,
    {
      trustDomain: "example.org",
      keyType: "ec-p256",
      rootTtlMs: 3650 * 86_400_000,
      caTtlMs: 30 * 86_400_000,
      jwtKeyTtlMs: 30 * 86_400_000,
    },
    {},
    systemClock,
  );
  return dir;
}

/** Join tokens straight into the store, in bulk. */
async function makeTokens(dataDir: string, n: number): Promise<string[]> {
  const store = new SqliteStore(dataFiles(dataDir).database, { now: () => Date.now(), synchronous: "NORMAL" });
  const tokens: string[] = [];
  store.db.exec("BEGIN");
  for (let i = 0; i < n; i++) {
    const t = await createJoinToken(
      { store, clock: systemClock, trustDomain: "example.org" },
      { spiffeId: `spiffe://example.org/bench/w${i % 1000}`, ttlMs: 3_600_000, actor: "bench" },
    );
    tokens.push(t.token);
  }
  store.db.exec("COMMIT");
  store.close();
  return tokens;
}

function makeCsrs(n: number): string[] {
  return Array.from({ length: n }, () =>
    pemEncode(buildCsr(new Signer(generateKeyPair("ec-p256").privateKey)), "CERTIFICATE REQUEST"),
  );
}

interface Server {
  child: ChildProcess;
  apiUrl: string;
  bundle: string;
  stop(): Promise<void>;
}

async function startServer(dataDir: string, workers: number): Promise<Server & { readyMs: number }> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server (and its workers)
      ...(process.env.BENCH_SERVER_NODE_OPTIONS?.split(" ").filter(Boolean) ?? []),
      CLI,
      "serve",
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
      "--rate-limit",
      "off",
      "--workers",
      String(workers),
    ],
    {
      // the default log level: every audit row is mirrored into the log, as in production (stdout is discarded)
      env: { ...process.env, TESSERA_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" },
      stdio: ["ignore", process.env.BENCH_SERVER_STDOUT ? openSync(process.env.BENCH_SERVER_STDOUT, "w") : "ignore", "pipe"],
    },
  );
  let banner = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (d: Buffer) => {
      banner += d.toString();
      if (banner.includes("fingerprint")) resolve();
    });
    child.once("exit", (c) => reject(new Error(`serve exited ${c}: ${banner}`)));
  });
  const apiUrl = /API\s+(\S+)/.exec(banner)?.[1] as string;
  const bundle = readFileSync(dataFiles(dataDir).bundle, "utf8");
  // ready = /readyz answers 200
  const { request } = await import("node:https");
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = request(`${apiUrl}/readyz`, { ca: bundle }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve(0));
      req.end();
    });
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - t0;
  return {
    child,
    apiUrl,
    bundle,
    readyMs,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function load(job: LoadJob): Promise<LoadResult> {
  const file = join(work, `job-${randomBytes(4).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(job));
  const { stdout } = await run(process.execPath, [LOAD, file], { maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout) as LoadResult;
  log(`  (load generator used ${fmt((result.clientCpu / result.seconds) * 100)}% CPU)`);
  if (result.warmupErrors) log(`  (${result.warmupErrors} warm-up requests failed)`);
  return result;
}

const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const ratio = (value: number, target: number, lowerIsBetter = false) =>
  `${fmt(lowerIsBetter ? target / value : value / target, 2)}×${(lowerIsBetter ? value <= target : value >= target) ? " ✓" : " ✗"}`;

async function x509Scenario(workers: number, concurrencies: number[], target: number | undefined): Promise<void> {
  // one client at a time manages a few hundred a second: fewer requests keep --quick under a minute
  const countAt = (c: number) => Number(process.env.BENCH_COUNT ?? 0) || (quick ? (c === 1 ? 1000 : 3000) : 20_000);
  const warmupAt = (c: number) => (c === 1 ? 200 : WARMUP);
  const dataDir = await freshDataDir(`x509-w${workers}-c${concurrencies.join("-")}`);
  const tokens = await makeTokens(
    dataDir,
    concurrencies.reduce((n, c) => n + warmupAt(c) + countAt(c), 100),
  );
  const csrs = makeCsrs(50);
  const server = await startServer(dataDir, workers);
  const pid = server.child.pid as number;
  let used = 0;
  try {
    for (const c of concurrencies) {
      const count = countAt(c);
      const warmup = warmupAt(c);
      const bodies = tokens
        .slice(used, used + warmup + count)
        .map((token, i) => ({ csr: csrs[i % csrs.length], attestation: { type: "join_token", token } }));
      used += warmup + count;
      const bodiesFile = join(work, `bodies-${c}.json`);
      writeFileSync(bodiesFile, JSON.stringify(bodies));
      const r = await load({
        url: `${server.apiUrl}/v1/svid/x509`,
        method: "POST",
        concurrency: c,
        count,
        warmup,
        serverPid: pid,
        bodiesFile,
        ca: server.bundle,
        expectStatus: 201,
      });
      const cpu = r.serverCpu;
      const rate = r.ok / r.seconds;
      if (r.errors) log(`x509 c=${c}: ${r.errors} errors ${JSON.stringify(r.statuses)}`);
      const p99Target = c === 64 ? " p99≤25ms" : "";
      // one request at a time measures latency: a rate target is for concurrent load
      const judged = target && c > 1 ? target : undefined;
      const targetText = judged ? `≥${fmt(judged)}/s${p99Target}` : c === 1 ? "— (latency)" : "—";
      const ratioText = judged ? ratio(rate, judged) + (c === 64 ? ` / p99 ${ratio(r.p99, 25, true)}` : "") : "";
      row(
        `X.509-SVID issuance, ${workers} worker${workers > 1 ? "s" : ""}, c=${c}`,
        `${fmt(rate)}/s`,
        `${fmt(r.p50, 1)} ms`,
        `${fmt(r.p99, 1)} ms`,
        `${fmt((cpu / r.seconds) * 100)}%`,
        `${fmt(peakRssMiB(pid))} MiB`,
        targetText,
        ratioText,
      );
    }
  } finally {
    await server.stop();
  }
}

async function issueClientCert(server: Server, dataDir: string): Promise<{ cert: string; key: string }> {
  const [token] = await makeTokens(dataDir, 1);
  const signer = generateKeyPair("ec-p256");
  const csr = pemEncode(buildCsr(new Signer(signer.privateKey)), "CERTIFICATE REQUEST");
  const { request } = await import("node:https");
  const body = JSON.stringify({ csr, attestation: { type: "join_token", token } });
  const reply = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${server.apiUrl}/v1/svid/x509`,
      { method: "POST", ca: server.bundle, headers: { "content-type": "application/json" } },
      (res) => {
        let s = "";
        res.on("data", (d) => {
          s += d;
        });
        res.on("end", () => resolve(s));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  return {
    cert: (JSON.parse(reply) as { chain: string }).chain,
    key: signer.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

async function jwtScenario(): Promise<void> {
  const workers = Number(process.env.BENCH_WORKERS ?? 2);
  const dataDir = await freshDataDir("jwt");
  const server = await startServer(dataDir, workers);
  const pid = server.child.pid as number;
  try {
    const client = await issueClientCert(server, dataDir);
    const count = quick ? 10_000 : 60_000;
    const bodiesFile = join(work, "jwt-bodies.json");
    writeFileSync(bodiesFile, JSON.stringify([{ audience: ["spiffe://example.org/api"] }]));
    const r = await load({
      url: `${server.apiUrl}/v1/svid/jwt`,
      method: "POST",
      concurrency: 64,
      count,
      warmup: WARMUP,
      serverPid: pid,
      bodiesFile,
      ca: server.bundle,
      ...client,
      expectStatus: 201,
    });
    const cpu = r.serverCpu;
    const rate = r.ok / r.seconds;
    if (r.errors) log(`jwt: ${r.errors} errors ${JSON.stringify(r.statuses)}`);
    row(
      `JWT-SVID issuance, ${workers} worker${workers > 1 ? "s" : ""}, c=64`,
      `${fmt(rate)}/s`,
      `${fmt(r.p50, 1)} ms`,
      `${fmt(r.p99, 1)} ms`,
      `${fmt((cpu / r.seconds) * 100)}%`,
      `${fmt(peakRssMiB(pid))} MiB`,
      "≥10,000/s",
      ratio(rate, 10_000),
    );
  } finally {
    await server.stop();
  }
}

async function readScenarios(): Promise<void> {
  const workers = Number(process.env.BENCH_WORKERS ?? 2);
  const dataDir = await freshDataDir("reads");
  const server = await startServer(dataDir, workers);
  const pid = server.child.pid as number;
  try {
    for (const [name, path] of [
      ["GET /v1/crl", "/v1/crl"],
      ["GET /.well-known/jwks.json", "/.well-known/jwks.json"],
    ] as const) {
      const etag = await new Promise<string>((resolve) => {
        import("node:https").then(({ request }) => {
          const req = request(`${server.apiUrl}${path}`, { ca: server.bundle }, (res) => {
            res.resume();
            resolve(String(res.headers.etag));
          });
          req.end();
        });
      });
      for (const conditional of [false, true]) {
        const n = quick ? 10_000 : 50_000;
        const res = await load({
          url: `${server.apiUrl}${path}`,
          method: "GET",
          concurrency: 64,
          count: n,
          warmup: WARMUP,
          serverPid: pid,
          ca: server.bundle,
          headers: conditional ? { "if-none-match": etag } : {},
          expectStatus: conditional ? 304 : 200,
        });
        const used = res.serverCpu;
        row(
          `${name}${conditional ? " (If-None-Match → 304)" : ""}, c=64`,
          `${fmt(res.ok / res.seconds)}/s`,
          `${fmt(res.p50, 1)} ms`,
          `${fmt(res.p99, 1)} ms`,
          `${fmt((used / res.seconds) * 100)}%`,
          `${fmt(peakRssMiB(pid))} MiB`,
          "—",
          "",
        );
      }
    }
  } finally {
    await server.stop();
  }
}

/** Inserts `n` revoked (or plain) certificate rows directly, the way a long-lived CA accumulates them. */
function fillCertificates(dataDir: string, n: number, revoked: boolean): void {
  const db = new Database(dataFiles(dataDir).database);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const issuer = (
    db.prepare("SELECT id FROM ca_keys WHERE kind = 'x509_intermediate' AND state = 'active'").get() as { id: string }
  ).id;
  const ins = db.prepare(
    "INSERT INTO certificates (serial, spiffe_id, issuer_id, not_before, not_after, der, attestation, issued_at, revoked_at, revocation_reason) VALUES (?, ?, ?, ?, ?, ?, 'bench', ?, ?, ?)",
  );
  const now = Date.now();
  const der = randomBytes(550);
  const batch = 50_000;
  // with revoked rows, a few unrevoked ones too, so the bench can revoke one more
  const total = revoked ? n + 10 : n;
  for (let done = 0; done < total; done += batch) {
    db.transaction(() => {
      for (let i = done; i < Math.min(total, done + batch); i++) {
        const isRevoked = revoked && i < n;
        const serial = randomBytes(16);
        serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
        ins.run(
          serial.toString("hex"),
          `spiffe://example.org/bench/w${i % 5000}`,
          issuer,
          now - 60_000,
          now + 86_400_000,
          der,
          now,
          isRevoked ? now : null,
          isRevoked ? [1, 4, 5][i % 3] : null,
        );
      }
    })();
  }
  if (revoked) db.prepare("UPDATE crls SET revision = revision + 1 WHERE issuer_id = ?").run(issuer);
  db.close();
}

async function crlScenarios(): Promise<void> {
  const sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  for (const n of sizes) {
    const dataDir = await freshDataDir(`crl-${n}`);
    fillCertificates(dataDir, n, true);
    // the environment and V8 flags a server worker (where CRLs are built) runs with, by default here
    const v8Flags = workerExecArgv([], { singleThreadedGc: singleThreadedGc(cpus().length) });
    const { stdout } = await run(process.execPath, [...v8Flags, "--expose-gc", CRL_BUILD, dataDir], {
      maxBuffer: 1 << 20,
      env: { ...process.env, ...workerMallocEnv() },
    });
    const { first, rebuild, steady } = JSON.parse(stdout) as {
      first: CrlBuildFigures;
      rebuild: CrlBuildFigures;
      steady: CrlBuildFigures;
    };
    const extra = (f: CrlBuildFigures) => f.extraBytes / f.crlBytes;
    const buildRow = (name: string, f: CrlBuildFigures, target = "—", result = "") =>
      row(
        name,
        `${fmt(f.seconds * 1000)} ms`,
        "",
        "",
        "",
        `+${fmt(f.extraBytes / 1e6, 1)} MB = ${fmt(extra(f), 1)}× CRL`,
        target,
        result,
      );
    const seconds = n === 100_000 ? 0.25 : n === 1_000_000 ? 3 : undefined;
    // the targets are for a rebuild in a running server; the first build (cold SQLite page cache) is shown for reference
    buildRow(`CRL first build after start, ${fmt(n)} revoked (${fmt(first.crlBytes / 1e6, 1)} MB)`, first);
    buildRow(
      `CRL rebuild after a revocation, ${fmt(n)} revoked`,
      rebuild,
      seconds ? `≤${fmt(seconds * 1000)} ms, ≤3× size` : "≤3× size",
      `${seconds ? `${ratio(rebuild.seconds, seconds, true)}; ` : ""}mem ${ratio(extra(rebuild), 3, true)}`,
    );
    // for reference: the targets apply to the rebuild above
    buildRow(`CRL rebuild, steady state (median of the next ${STEADY_REBUILDS}), ${fmt(n)} revoked`, steady);
    if (n === 100_000) await revocationLatency(dataDir);
  }
}

/**
 * With 100k revoked: time from a CLI revocation to the served CRL listing it.
 * Polls with If-None-Match, so an unchanged CRL costs a 304 and not a 4.9 MB
 * download and parse; the time is when the first CRL listing the serial
 * arrived (parsing it afterwards is the client's cost, not the server's).
 */
async function revocationLatency(dataDir: string): Promise<void> {
  const server = await startServer(dataDir, 1);
  try {
    const client = await issueClientCert(server, dataDir);
    const serial = new (await import("node:crypto")).X509Certificate(client.cert).serialNumber.toLowerCase();
    const { parseCrl } = await import("../src/crl/parse-crl.js");
    const { request } = await import("node:https");
    const fetchCrl = (etag?: string) =>
      new Promise<{ status: number; etag: string; der: Buffer }>((resolve, reject) => {
        const headers = etag ? { "if-none-match": etag } : undefined;
        const req = request(`${server.apiUrl}/v1/crl`, { ca: server.bundle, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, etag: String(res.headers.etag), der: Buffer.concat(chunks) }),
          );
        });
        req.on("error", reject);
        req.end();
      });
    let { etag } = await fetchCrl();
    const t0 = performance.now();
    await run(process.execPath, [CLI, "revoke", serial, "--data-dir", dataDir]);
    const cliMs = performance.now() - t0;
    for (;;) {
      const res = await fetchCrl(etag);
      const arrived = performance.now() - t0;
      if (res.status === 200) {
        etag = res.etag;
        if (parseCrl(res.der).revoked.has(serial.replace(/^0+/, ""))) {
          const figure = `${fmt(arrived)} ms (CLI ${fmt(cliMs)} ms)`;
          row("Revocation (CLI) → served CRL, 100,000 revoked", figure, "", "", "", "", "≤1,000 ms", ratio(arrived, 1000, true));
          return;
        }
      } else if (res.status !== 304) {
        throw new Error(`GET /v1/crl answered ${res.status}`);
      }
      if (arrived > 10_000) throw new Error("revocation not visible after 10 s");
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await server.stop();
  }
}

/**
 * Issuance into an empty database against one holding `n` certificates. The
 * machine's speed drifts by up to ±20% over minutes, so the two servers run
 * side by side and are loaded in alternating rounds, which side goes first
 * alternating too (ABBA); each side's figure is the median of its rounds,
 * and the ratio is the median of the rounds' own ratios, each taken from
 * two loads seconds apart. (Three rounds, always empty first, gave 84% and
 * 107% in two runs of the same code.) Each server first answers WARMUP
 * unmeasured requests, as in the other scenarios: without them the first
 * rounds measured V8 compiling the request path and SQLite reading its
 * pages in, more slowly on the side with the larger indexes.
 */
async function bigDatabaseScenario(): Promise<void> {
  const n = quick ? 100_000 : 1_000_000;
  const perRound = quick ? 1000 : 5000;
  const rounds = quick ? 3 : 6;
  const sides: Array<{ filled: number; server: Server; bodiesFiles: string[]; rates: number[]; p50: number[]; p99: number[] }> =
    [];
  try {
    for (const filled of [0, n]) {
      const dataDir = await freshDataDir(`big-${filled}`);
      if (filled) fillCertificates(dataDir, filled, false);
      const tokens = await makeTokens(dataDir, perRound * rounds + WARMUP);
      const csrs = makeCsrs(50);
      // the last file is the warm-up's
      const bodiesFiles = Array.from({ length: rounds + 1 }, (_, round) => {
        const file = join(work, `big-${filled}-${round}.json`);
        const mine = round < rounds ? tokens.slice(round * perRound, (round + 1) * perRound) : tokens.slice(rounds * perRound);
        writeFileSync(
          file,
          JSON.stringify(mine.map((token, i) => ({ csr: csrs[i % 50], attestation: { type: "join_token", token } }))),
        );
        return file;
      });
      sides.push({ filled, server: await startServer(dataDir, 1), bodiesFiles, rates: [], p50: [], p99: [] });
    }
    // one load of one side: c=16 X.509-SVIDs from one of its bodies files
    const loadSide = (side: (typeof sides)[0], count: number, file: number) =>
      load({
        url: `${side.server.apiUrl}/v1/svid/x509`,
        method: "POST",
        concurrency: 16,
        count,
        bodiesFile: side.bodiesFiles[file] as string,
        ca: side.server.bundle,
        expectStatus: 201,
      });
    for (const side of sides) {
      if (WARMUP === 0) break;
      const warm = await loadSide(side, WARMUP, rounds);
      if (warm.errors) log(`big database warm-up: ${warm.errors} errors ${JSON.stringify(warm.statuses)}`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 ? [...sides].reverse() : sides) {
        const r = await loadSide(side, perRound, round);
        side.rates.push(r.ok / r.seconds);
        side.p50.push(r.p50);
        side.p99.push(r.p99);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    const [empty, full] = sides as [(typeof sides)[0], (typeof sides)[0]];
    for (const side of sides) {
      row(
        `X.509 issuance, 1 worker, c=16, ${fmt(side.filled)} certificates recorded (median of ${rounds} alternating rounds)`,
        `${fmt(median(side.rates))}/s`,
        `${fmt(median(side.p50), 1)} ms`,
        `${fmt(median(side.p99), 1)} ms`,
        "",
        "",
        side.filled ? "≥90% of empty" : "baseline",
        side.filled ? ratio(median(full.rates.map((rate, i) => rate / (empty.rates[i] as number))), 0.9) : "",
      );
    }
  } finally {
    for (const side of sides) await side.server.stop();
  }
}

async function coldStart(): Promise<void> {
  const dataDir = await freshDataDir("cold");
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const server = await startServer(dataDir, 1);
    times.push(server.readyMs);
    await server.stop();
  }
  const best = Math.min(...times);
  row("Cold start to /readyz 200 (1 worker)", `${fmt(best)} ms`, "", "", "", "", "≤1,000 ms", ratio(best, 1000, true));
}

/** Scenarios a full run leaves out: x509-64 repeats x509-1's c=64 on its own, for A/B runs. */
const ON_REQUEST = new Set(["x509-64"]);

const scenarios: Array<[string, () => Promise<void>]> = [
  ["cold", coldStart],
  ["x509-1", () => x509Scenario(1, [1, 16, 64], 1500)],
  ["x509-64", () => x509Scenario(1, [64], 1500)],
  ["x509-2", () => x509Scenario(Number(process.env.BENCH_WORKERS ?? 2), [64], 3000)],
  ["jwt", jwtScenario],
  ["reads", readScenarios],
  ["crl", crlScenarios],
  ["bigdb", bigDatabaseScenario],
];

try {
  log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}${quick ? ", quick mode" : ""}`);
  for (const [name, fn] of scenarios) if (only ? only.split(",").includes(name) : !ON_REQUEST.has(name)) await fn();
} finally {
  rmSync(work, { recursive: true, force: true });
}

const header = ["scenario", "result", "p50", "p99", "server CPU", "peak RSS", "target", "ratio"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
process.stdout.write(`${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n${rows.map(line).join("\n")}\n`);
