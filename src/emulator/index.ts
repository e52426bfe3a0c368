import { createServer, type Server } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { inferRegion } from '../region.js';
import { type BackendAccount, backendAccountFor, checkBackendAccounts } from './backend.js';
import { generateServerCertificate, issueServerCertificate, type ServerCertificate } from './certificates.js';
import {
  defaultEngineFor,
  type EngineProfileName,
  engineProfile,
  profileCapabilities,
  profileGreeting,
} from './engine-profiles.js';
import { type EmulatorFaults, FaultState, validateNonNegative } from './faults.js';
import { Capability } from './packets.js';
import { type IamUserMapping, Session, type SessionContext } from './session.js';
import type { TrustedKey } from './verify-token.js';

export {
  ENGINE_PROFILE_NAMES,
  type EngineProfileName,
} from './engine-profiles.js';
export { EmulatorError, type EmulatorErrorCode } from './errors.js';
export type { EmulatorFaults } from './faults.js';
export type { IamUserMapping } from './session.js';
export type { ExpectedToken, TokenRejection, TokenVerification, TrustedKey } from './verify-token.js';
export { verifyAuthToken } from './verify-token.js';

export interface EmulatorOptions {
  /** The real MySQL/MariaDB the emulator logs into (plaintext, mysql_native_password). */
  backend: { host: string; port: number; user: string; password?: string };
  /** The RDS endpoint name it impersonates; tokens must name it and the certificate carries it. */
  host?: string;
  /** The port tokens must name (`host:port` in the token); not the port the emulator listens on. */
  endpointPort?: number;
  /** Defaults to the region in `host` (`….<region>.rds.amazonaws.com`). */
  region?: string;
  /** Listen port; 0 (default) picks a free one. */
  port?: number;
  listenHost?: string;
  /** IAM users it accepts, each with the backend login to use (default: backend.user/password). */
  users: Record<string, IamUserMapping>;
  /** Credentials whose signatures it trusts. */
  keys: TrustedKey[];
  /** A CA to issue the server certificate from, or a complete certificate; default: generate both. */
  tls?: { caCert?: string; caKey?: string } | { cert: string; key: string; ca: string };
  /** false = never offer TLS (IAM logins are then always refused with 'not-tls'). Default true. */
  offerTls?: boolean;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** How far X-Amz-Date may lie in the future; default 300 s. */
  skewSeconds?: number;
  /** A client that has not finished logging in after this long is disconnected; default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /**
   * Which RDS engine's greeting to present (version string, default auth plugin). Default: `mariadb`
   * for a MariaDB backend, `mysql8.0` otherwise.
   */
  engine?: EngineProfileName;
}

export interface EmulatorStats {
  loginsAccepted: number;
  /**
   * The auth plugin each client named in its first answer to the greeting, counted by name
   * (mysql2 answers MySQL 8.4's caching_sha2_password greeting differently depending on its authPlugins).
   */
  clientAuthPlugins: Record<string, number>;
  loginsRejected: Record<string, number>;
  liveSessions: number;
  connectionsAccepted: number;
  distinctTokens: number;
}

export interface EmulatorSession {
  id: number;
  user: string;
  since: number;
}

export interface Emulator {
  port: number;
  listenHost: string;
  host: string;
  endpointPort: number;
  region: string;
  /** The engine profile in effect, and the version string its greeting announces. */
  engine: EngineProfileName;
  serverVersion: string;
  /** PEM of the CA that signed the server certificate: what a client must trust. */
  ca: string;
  stop(): Promise<void>;
  faults: EmulatorFaults;
  stats(): EmulatorStats;
  sessions(): EmulatorSession[];
}

export const DEFAULT_HOST = 'mydb.abc123.us-east-1.rds.amazonaws.com';
/**
 * RDS itself tolerates a little clock skew on X-Amz-Date; five minutes is the window SigV4 services
 * use for request timestamps, so a test host whose clock runs a bit fast still logs in.
 */
export const DEFAULT_SKEW_SECONDS = 300;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Capabilities that change how post-login traffic is framed: offered only when the backend has
 * them, so the relayed byte stream means the same thing to both ends.
 */
const RELAYED_CAPABILITIES =
  Capability.PROTOCOL_41 |
  Capability.CONNECT_WITH_DB |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.TRANSACTIONS |
  Capability.LONG_FLAG |
  Capability.FOUND_ROWS |
  Capability.DEPRECATE_EOF |
  Capability.SESSION_TRACK;

/** Login-phase capabilities the emulator implements itself, whatever the backend offers. */
const LOGIN_CAPABILITIES =
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_ATTRS;

const BACKEND_CHECK_TIMEOUT_MS = 5000;

/** The backend accounts sessions will log in as: every mapping's, and the default one if any user (or none) relies on it. */
function accountsInUse(
  users: Record<string, IamUserMapping>,
  backend: EmulatorOptions['backend'],
): BackendAccount[] {
  const mappings = Object.values(users);
  const usesDefault = mappings.length === 0 || mappings.some((m) => m.backendUser === undefined);
  return [
    ...(usesDefault ? [backendAccountFor({}, backend)] : []),
    ...mappings.filter((m) => m.backendUser !== undefined).map((m) => backendAccountFor(m, backend)),
  ];
}

/** The region in an RDS-style host name (the same inference the pool uses). */
export const regionFromHost = inferRegion;

async function resolveCertificate(
  tls: EmulatorOptions['tls'],
  names: readonly string[],
): Promise<ServerCertificate> {
  if (tls && 'cert' in tls) return { certPem: tls.cert, keyPem: tls.key, caPem: tls.ca };
  if (tls?.caCert && tls.caKey)
    return issueServerCertificate({ certPem: tls.caCert, keyPem: tls.caKey }, names);
  if (tls?.caCert || tls?.caKey) throw new TypeError('tls.caCert and tls.caKey must be given together');
  return generateServerCertificate(names);
}

/** Starts a local endpoint that accepts only valid RDS IAM tokens over verified TLS and relays to `backend`. */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? DEFAULT_HOST;
  const endpointPort = options.endpointPort ?? 3306;
  const region = options.region ?? regionFromHost(host);
  if (!region) {
    throw new TypeError(`cannot infer the region from host '${host}'; pass options.region`);
  }
  const listenHost = options.listenHost ?? '127.0.0.1';
  const offerTls = options.offerTls ?? true;
  const clock = options.clock ?? Date.now;
  const skewSeconds = validateNonNegative('skewSeconds', options.skewSeconds ?? DEFAULT_SKEW_SECONDS);
  const handshakeTimeoutMs = validateNonNegative(
    'handshakeTimeoutMs',
    options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  );
  if (options.engine !== undefined) engineProfile(options.engine);
  const users = { ...options.users };
  const keys = options.keys.map((k) => ({ ...k }));
  const certNames = [host, 'localhost', '127.0.0.1'];

  const [backendGreeting, certificate] = await Promise.all([
    checkBackendAccounts(options.backend, accountsInUse(users, options.backend), BACKEND_CHECK_TIMEOUT_MS),
    resolveCertificate(options.tls, certNames),
  ]);
  const engine = engineProfile(options.engine ?? defaultEngineFor(backendGreeting.serverVersion));
  const greeting = profileGreeting(engine, backendGreeting);
  const trustedContext = createSecureContext({ cert: certificate.certPem, key: certificate.keyPem });
  let untrustedContext: Promise<SecureContext> | undefined;
  const untrusted = (): Promise<SecureContext> => {
    untrustedContext ??= generateServerCertificate(certNames).then((c) =>
      createSecureContext({ cert: c.certPem, key: c.keyPem }),
    );
    return untrustedContext;
  };

  const faults = new FaultState();
  const sessions = new Map<number, Session>();
  const loginsRejected: Record<string, number> = {};
  const clientAuthPlugins: Record<string, number> = {};
  const tokenHashes = new Set<string>();
  let loginsAccepted = 0;
  let connectionsAccepted = 0;
  let nextId = 1;
  const now = () => clock() + faults.clockOffsetMs;

  const context: SessionContext = {
    host,
    endpointPort,
    region,
    users,
    keys,
    backend: { ...options.backend },
    offerTls,
    serverVersion: greeting.serverVersion,
    authPluginName: greeting.authPluginName,
    greetingCapabilities: profileCapabilities(
      engine,
      (backendGreeting.capabilities & RELAYED_CAPABILITIES) |
        LOGIN_CAPABILITIES |
        (offerTls ? Capability.SSL : 0),
    ),
    characterSet: backendGreeting.characterSet,
    skewSeconds,
    handshakeTimeoutMs,
    faults,
    now,
    secureContext: () => (faults.untrustedCertificate ? untrusted() : Promise.resolve(trustedContext)),
    recordRejection: (reason) => {
      loginsRejected[reason] = (loginsRejected[reason] ?? 0) + 1;
    },
    recordClientAuthPlugin: (name) => {
      clientAuthPlugins[name] = (clientAuthPlugins[name] ?? 0) + 1;
    },
    recordValidToken: (hash) => {
      tokenHashes.add(hash);
    },
    recordLogin: () => {
      loginsAccepted++;
    },
  };

  let stopping = false;
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    if (!faults.accepting || stopping) {
      socket.destroy();
      return;
    }
    connectionsAccepted++;
    const id = nextId++;
    const session = new Session(id, socket, context);
    sessions.set(id, session);
    void session.closed.then(() => sessions.delete(id));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, listenHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const emulatorFaults: EmulatorFaults = {
    rejectNextLogins(n) {
      faults.rejectRemaining = Math.floor(validateNonNegative('rejectNextLogins', n));
    },
    capLoginsPerSecond(n) {
      faults.loginsPerSecond = n === null ? null : Math.floor(validateNonNegative('capLoginsPerSecond', n));
    },
    dropAllConnections() {
      for (const session of sessions.values()) session.destroy();
    },
    dropConnection(id) {
      sessions.get(id)?.destroy();
    },
    delayHandshake(ms) {
      faults.handshakeDelayMs = validateNonNegative('delayHandshake', ms);
    },
    shiftClock(ms) {
      if (!Number.isFinite(ms)) throw new RangeError('shiftClock needs a finite number of ms');
      faults.clockOffsetMs += ms;
    },
    stopAccepting() {
      faults.accepting = false;
    },
    resumeAccepting() {
      faults.accepting = true;
    },
    useUntrustedCertificate(on) {
      faults.untrustedCertificate = on;
      // Start generating now so the next TLS handshake does not wait for key generation.
      if (on) untrusted().catch(() => {});
    },
    reset() {
      faults.reset();
    },
  };

  let stopped: Promise<void> | undefined;
  return {
    port,
    listenHost,
    host,
    endpointPort,
    region,
    engine: engine.name,
    serverVersion: greeting.serverVersion,
    ca: certificate.caPem,
    faults: emulatorFaults,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const live = [...sessions.values()];
        for (const session of live) session.destroy();
        await Promise.all([closed, ...live.map((s) => s.closed), untrustedContext?.catch(() => {})]);
      })();
      return stopped;
    },
    stats() {
      let liveSessions = 0;
      for (const session of sessions.values()) if (session.live) liveSessions++;
      return {
        loginsAccepted,
        clientAuthPlugins: { ...clientAuthPlugins },
        loginsRejected: { ...loginsRejected },
        liveSessions,
        connectionsAccepted,
        distinctTokens: tokenHashes.size,
      };
    },
    sessions() {
      const list: EmulatorSession[] = [];
      for (const s of sessions.values()) {
        if (s.live) list.push({ id: s.id, user: s.user ?? '', since: s.since ?? 0 });
      }
      return list;
    },
  };
}
