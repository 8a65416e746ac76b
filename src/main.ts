import { X509Certificate } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import type { Attestor } from "./attest/attestor.js";
import { JoinTokenAttestor } from "./attest/join-token.js";
import { JwtIssuerAttestor } from "./attest/jwt-issuer.js";
import { X509PeerAuthenticator } from "./attest/x509-peer.js";
import { AuditTail } from "./audit/audit-tail.js";
import { type Duty, DutyRunner } from "./background-duties.js";
import { certificateFingerprint } from "./ca/ca-keys.js";
import { DEFAULT_INIT, initializeCa } from "./ca/init-ca.js";
import { openCa } from "./ca/open-ca.js";
import { type Clock, systemClock } from "./clock.js";
import { formatUrl, type ServeConfig } from "./config.js";
import { loadFileConfig } from "./config-file.js";
import type { ListenerName } from "./connection-balancer.js";
import { CrlService } from "./crl/crl-service.js";
import { CryptoThreads } from "./crypto/crypto-threads.js";
import { dataFiles, isInitialized } from "./data-dir.js";
import { issueServerCertificate } from "./flows/issue-server-certificate.js";
import { prune } from "./flows/prune.js";
import { createApiApp, createPublicApp } from "./http/app.js";
import { answerClientErrors } from "./http/client-errors.js";
import type { HttpDeps } from "./http/deps.js";
import { listen } from "./http/listen.js";
import { RateLimiter } from "./http/rate-limit.js";
import { METRIC, serverMetrics } from "./http/server-metrics.js";
import { slowClientLimits } from "./http/slow-clients.js";
import { secureContextOptions, serverTlsOptions } from "./http/tls.js";
import { createLogger } from "./log.js";

const PRUNE_INTERVAL_MS = 3_600_000;

export interface RunningTessera {
  apiUrl: string;
  crlUrl: string;
  bundlePath: string;
  bundleFingerprint: string;
  trustDomain: string;
  /** Serves a connection accepted elsewhere (by the primary, when `handedConnections`). */
  accept(listener: ListenerName, socket: Socket): void;
  close(): Promise<void>;
}

/**
 * The composition root: config → store → keys → CA → flows → HTTP.
 * Initialises the data directory first if asked to (the embedded default).
 */
export async function startTessera(
  config: Readonly<ServeConfig>,
  options: {
    env?: NodeJS.ProcessEnv;
    clock?: Clock;
    logger?: Logger;
    /**
     * The leader runs the background duties that must happen once: key
     * lifecycle, CRL building, audit shipping. Followers (other workers) only
     * mirror what the database holds. Decisions are in the database either
     * way; this only avoids doing the work twice.
     */
    leader?: boolean;
    /**
     * Threads of this process making X.509-SVIDs and signatures (see
     * CryptoThreads; default 1). With none, the event loop does that work.
     */
    cryptoThreads?: number;
    /**
     * The primary listens and hands connections over (see ConnectionBalancer):
     * this process listens on nothing, and `config.listen` and
     * `config.httpListen` are the addresses the primary bound.
     */
    handedConnections?: boolean;
  } = {},
): Promise<RunningTessera> {
  const leader = options.leader ?? true;
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();

  if (!isInitialized(config.dataDir)) {
    if (!config.autoInit) throw new Error(`${config.dataDir} is not initialised: run "tessera init" first`);
    const init = await initializeCa(config.dataDir, { ...DEFAULT_INIT, trustDomain: config.defaultTrustDomain }, env, clock);
    logger.info({ data_dir: config.dataDir, root: init.rootId }, "initialised a new CA");
  }

  const { store, ca, lifecycle } = await openCa(config.dataDir, env, clock);
  const crl = new CrlService(store, ca, clock, { validityMs: config.crlValidityMs });
  const metrics = serverMetrics(crl, ca);
  // started before the first lifecycle tick: a key erased there has the WAL scrubbed by it
  let walFrames = 0;
  store.checkpointInBackground((report) => {
    if (report.type === "error") {
      logger.warn({ err: report.message }, "the WAL checkpoint thread failed; commits checkpoint on their own");
      return;
    }
    if (report.type === "scrubbed") {
      logger.info("the WAL was checkpointed and truncated after a CA key erasure: no earlier page images remain in it");
      return;
    }
    metrics.count(METRIC.walCheckpoints);
    if (report.restarted) metrics.count(METRIC.walRestarts);
    walFrames = report.walFrames;
  });
  metrics.gauge(METRIC.walFrames, () => walFrames);
  if (leader) await lifecycle.tick();
  const auditTail = new AuditTail(store, logger);
  await auditTail.resume();

  // Listen first: the CRL URL in every certificate names the real port.
  const limits = slowClientLimits(config.slowClientTimeoutMs);
  const httpsServer = createHttpsServer({ minVersion: "TLSv1.2", ...limits });
  const httpServer = config.httpListen ? createHttpServer(limits) : undefined;
  const handed = options.handedConnections ?? false;
  const apiAddr = handed ? config.listen : await listen(httpsServer, config.listen);
  const publicAddr =
    !httpServer || !config.httpListen ? undefined : handed ? config.httpListen : await listen(httpServer, config.httpListen);
  const apiUrl = formatUrl("https", apiAddr);
  const crlBaseUrl = `${publicAddr ? formatUrl("http", publicAddr) : apiUrl}/v1/crl`;
  const issuer = config.publicUrl ?? apiUrl;

  const configFile =
    config.configFile ?? (existsSync(dataFiles(config.dataDir).config) ? dataFiles(config.dataDir).config : undefined);
  const fileConfig = loadFileConfig(configFile);
  const attestors = new Map<string, Attestor>([
    ["join_token", new JoinTokenAttestor(store, clock)],
    ["jwt", new JwtIssuerAttestor(fileConfig.jwtIssuers, clock)],
  ]);
  const cryptoThreads = new CryptoThreads(options.cryptoThreads ?? 1);
  ca.offloadTo(cryptoThreads);
  const rateLimit = config.rateLimit === undefined ? fileConfig.rateLimit : config.rateLimit;
  const rateLimiter = rateLimit ? new RateLimiter(rateLimit) : undefined;
  const deps: HttpDeps = {
    store,
    ca,
    crl,
    clock,
    logger,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    rateLimiter,
    issueX509: { store, ca, clock, attestors, crlBaseUrl, defaultTtlMs: config.x509DefaultTtlMs },
    issueJwt: { store, ca, clock, attestors, issuer, defaultTtlMs: config.jwtDefaultTtlMs },
    peers: new X509PeerAuthenticator(store, clock),
    issuer,
  };

  let serverCert = await issueServerCertificate({ store, ca, clock, crlBaseUrl }, [...config.dnsNames]);
  const applyTls = () => {
    const opts = serverTlsOptions(secureContextOptions(serverCert.keyPem, serverCert.certChainPem, ca.bundlePem()));
    httpsServer.setSecureContext(opts);
  };
  applyTls();
  Object.assign(httpsServer, { requestCert: true, rejectUnauthorized: false });
  httpsServer.on("request", createApiApp(deps));
  // no TLS 1.2 renegotiation: a client-initiated renegotiation ends the connection
  httpsServer.on("secureConnection", (socket: TLSSocket) => socket.disableRenegotiation());
  httpServer?.on("request", createPublicApp(deps));
  answerClientErrors(httpsServer, metrics);
  if (httpServer) answerClientErrors(httpServer, metrics);
  // A CRL that cannot be built must not keep the CA from starting: the last
  // one built is served, and the background duties retry it with backoff.
  await crl.refresh({ build: true }).catch((err: unknown) => logger.error({ err }, "CRL build failed at start"));

  const bundlePath = dataFiles(config.dataDir).bundle;
  const writeBundle = () => {
    if (leader) writeFileSync(bundlePath, ca.bundlePem(), { mode: 0o644 });
  };
  writeBundle();
  const rootDer = new X509Certificate(ca.bundlePem()).raw;

  // Background work: pick up changes other processes made (revocations,
  // rotations), keep CRLs fresh, renew our own certificate at half its life.
  let stopped = false;
  let busy = false;
  let nextPrune = clock.now().getTime() + 60_000;
  let keysChanged = false;
  const duties: Duty[] = [
    {
      name: "key lifecycle",
      run: async () => {
        if (leader && (await lifecycle.tick())) keysChanged = true;
      },
    },
    {
      // its own duty: keys another process rotated are picked up even while this one's lifecycle step fails
      name: "CA reload",
      run: async () => {
        if ((await ca.reload()) || keysChanged) {
          writeBundle();
          applyTls();
          keysChanged = false;
        }
      },
    },
    { name: "CRL", run: () => crl.refresh({ build: leader }) },
    { name: "rate limiter", run: async () => rateLimiter?.sweep() },
    { name: "audit shipping", run: async () => (leader ? auditTail.drain() : undefined) },
    {
      name: "pruning",
      run: async () => {
        const now = clock.now().getTime();
        if (!leader || now < nextPrune) return;
        nextPrune = now + PRUNE_INTERVAL_MS;
        await prune({ store, clock }, config.retentionMs, "tessera");
      },
    },
    {
      name: "server certificate renewal",
      run: async () => {
        if (clock.now().getTime() < serverCert.renewAt) return;
        serverCert = await issueServerCertificate({ store, ca, clock, crlBaseUrl }, [...config.dnsNames]);
        applyTls();
      },
    },
  ];
  const runner = new DutyRunner(duties, logger, {
    onFailure: (duty) => metrics.count(METRIC.dutyFailures, { duty }),
  });
  const tick = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      await runner.runRound();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(tick, config.pollIntervalMs);
  timer.unref();

  logger.info(
    {
      api: apiUrl,
      crl: crlBaseUrl,
      trust_domain: ca.trustDomain,
      config_file: configFile ?? null,
      jwt_issuers: fileConfig.jwtIssuers.length,
    },
    "tessera is serving",
  );
  return {
    apiUrl,
    crlUrl: crlBaseUrl,
    bundlePath,
    bundleFingerprint: certificateFingerprint(rootDer),
    trustDomain: ca.trustDomain,
    accept(listener, socket) {
      const server = listener === "api" ? httpsServer : httpServer;
      if (stopped || !server) socket.destroy();
      else server.emit("connection", socket);
    },
    async close() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(
        [httpsServer, httpServer].map(
          (s) =>
            new Promise<void>((resolve) => {
              if (!s) return resolve();
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await store.close();
      await cryptoThreads.close();
    },
  };
}
