import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Capability } from '../protocol/mysql-packets.js';
import { inferRegion } from '../shared/rds-names.js';
import type {
  AddReaderOptions,
  ClusterEmulator,
  ClusterOptions,
  Emulator,
  EmulatorOptions,
  EmulatorPoolOptions,
  EmulatorSession,
} from './api.js';
import { answerAuroraQuery } from './aurora-queries.js';
import { type BackendAccount, backendAccountFor, checkBackendAccounts } from './backend.js';
import { generateServerCertificate, issueServerCertificate, type ServerCertificate } from './certificates.js';
import {
  type ClusterEndpoint,
  ClusterState,
  DEFAULT_OUTAGE,
  DEFAULT_READER_RECORD_TTL_MS,
  validateOutage,
} from './cluster.js';
import { clusterNames, DEFAULT_CLUSTER_HOST } from './cluster-names.js';
import {
  auroraFacts,
  certificateNames,
  createRouter,
  EndpointDirectory,
  EndpointListener,
  endpointSpecs,
  listenOnEndpoints,
} from './endpoints.js';
import { defaultEngineFor, engineProfile, profileCapabilities, profileGreeting } from './engine-profiles.js';
import { EmulatorError } from './errors.js';
import { type EmulatorFaults, FaultState, validateNonNegative } from './faults.js';
import { isReaderWriteRefusal } from './read-only.js';
import { type ReaderAccountRequest, ReaderAccounts } from './reader-accounts.js';
import { type IamUserMapping, Session, type SessionContext } from './session.js';

export const DEFAULT_HOST = 'mydb.abc123.us-east-1.rds.amazonaws.com';
/**
 * RDS itself tolerates a little clock skew on X-Amz-Date; five minutes is the window SigV4 services
 * use for request timestamps, so a test host whose clock runs a bit fast still logs in.
 */
export const DEFAULT_SKEW_SECONDS = 300;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** One writer and two readers: enough for a failover to have a choice and the reader endpoint to rotate. */
export const DEFAULT_INSTANCES = 3;

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

/** What each IAM user's reader sessions need: its backend account, and the reader account it named, if any. */
function readerAccountRequest(
  mapping: IamUserMapping,
  backend: EmulatorOptions['backend'],
): ReaderAccountRequest {
  const account = backendAccountFor(mapping, backend);
  return mapping.readerBackendUser === undefined
    ? { account }
    : { account, given: { user: mapping.readerBackendUser, password: mapping.readerBackendPassword ?? '' } };
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

/**
 * Starts a local endpoint that accepts only valid RDS IAM tokens over verified TLS and relays to
 * `backend`; with `cluster`, an emulated Aurora cluster with cluster, reader and instance endpoints.
 */
export async function startEmulator(
  options: EmulatorOptions & { cluster: ClusterOptions },
): Promise<ClusterEmulator>;
export async function startEmulator(options: EmulatorOptions): Promise<Emulator>;
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const names = options.cluster
    ? clusterNames(options.host ?? DEFAULT_CLUSTER_HOST, options.cluster.instances ?? DEFAULT_INSTANCES)
    : undefined;
  const host = names?.cluster ?? options.host ?? DEFAULT_HOST;
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
  const outage = validateOutage(options.cluster?.outage ?? DEFAULT_OUTAGE);
  const readerRecordTtlMs = validateNonNegative(
    'cluster.readerRecordTtlMs',
    options.cluster?.readerRecordTtlMs ?? DEFAULT_READER_RECORD_TTL_MS,
  );
  const basePort = options.port ?? 0;
  const specs = endpointSpecs(host, names);
  const certNames = certificateNames(specs, names);

  const [backendGreeting, certificate] = await Promise.all([
    checkBackendAccounts(options.backend, accountsInUse(users, options.backend), BACKEND_CHECK_TIMEOUT_MS),
    resolveCertificate(options.tls, certNames),
  ]);
  // Cluster mode: reader sessions log in as accounts that can only read (reader-accounts.ts).
  const readerAccounts = names
    ? await ReaderAccounts.prepare(
        { ...options.backend, ...backendAccountFor({}, options.backend) },
        Object.values(users).map((m) => readerAccountRequest(m, options.backend)),
        { mariadb: /mariadb/i.test(backendGreeting.serverVersion), timeoutMs: BACKEND_CHECK_TIMEOUT_MS },
      )
    : undefined;
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
  const auroraQueries = { variables: 0, topology: 0, refused: 0 };
  let loginsAccepted = 0;
  let connectionsAccepted = 0;
  let nextId = 1;
  const now = () => clock() + faults.clockOffsetMs;
  let listeners: EndpointListener[] = [];
  /** Opens or closes each endpoint's port as the instance it leads to is up or down (outage 'refuse'). */
  const reconcileListeners = () => {
    if (stopping || !cluster) return;
    for (const listener of listeners) listener.setAccepting(cluster.acceptsTcp(listener.endpoint));
  };
  const cluster = names
    ? new ClusterState(
        names,
        { outage, readerRecordTtlMs },
        {
          now,
          cutInstance: (instanceId) => {
            for (const session of sessions.values()) {
              if (session.route?.instance?.instanceId === instanceId) session.destroy();
            }
          },
          liveSessions: (instanceId) => {
            let n = 0;
            for (const s of sessions.values())
              if (s.live && s.route?.instance?.instanceId === instanceId) n++;
            return n;
          },
          // An instance went down or came back, an endpoint moved: open or close each endpoint's port.
          changed: () => reconcileListeners(),
        },
      )
    : undefined;

  const context: Omit<SessionContext, 'route'> = {
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
    recordLogin: (session) => {
      loginsAccepted++;
      const instanceId = session.route?.instance?.instanceId;
      if (instanceId) cluster?.countLogin(instanceId);
    },
    ...(cluster && readerAccounts
      ? {
          relayPolicy: (instance, deprecateEof, readerAccount) => ({
            deprecateEof,
            readOnly: instance.readOnly,
            isWriteRefusal: (payload) =>
              readerAccount !== undefined && isReaderWriteRefusal(payload, readerAccount.writeScope),
            answer: (sql) => {
              const answer = answerAuroraQuery(sql, () =>
                auroraFacts(cluster, instance, endpointPort, now()),
              );
              if (answer) auroraQueries[answer.kind === 'rows' ? answer.about : 'refused']++;
              return answer;
            },
            onStatement: () => cluster.countQuery(instance.instanceId),
          }),
          readerAccount: (mapping) => {
            const account = readerAccounts.get(readerAccountRequest(mapping, options.backend));
            if (!account) throw new Error('no reader account prepared for this IAM user');
            return account;
          },
          repairReaderAccount: (account) => readerAccounts.repair(account),
        }
      : {}),
  };

  let stopping = false;
  let router: ReturnType<typeof createRouter> | undefined;
  const listenerContexts = new Map<ClusterEndpoint, SessionContext>();
  const onConnection = (socket: Socket, endpoint: ClusterEndpoint) => {
    socket.on('error', () => {});
    if (!faults.accepting || stopping || !router) {
      socket.destroy();
      return;
    }
    connectionsAccepted++;
    const id = nextId++;
    let ctx = listenerContexts.get(endpoint);
    if (!ctx) {
      const route = router;
      ctx = { ...context, route: (servername) => route(endpoint, servername) };
      listenerContexts.set(endpoint, ctx);
    }
    const session = new Session(id, socket, ctx);
    sessions.set(id, session);
    void session.closed.then(() => sessions.delete(id));
  };
  listeners = await listenOnEndpoints(specs, listenHost, basePort, onConnection);
  const endpoints = listeners.map((l) => l.endpoint);
  const directory = new EndpointDirectory(endpoints);
  router = createRouter(directory, cluster);
  const main = endpoints[0]!;
  /** Listeners of removed readers, closing: stop() waits for them too. */
  const retired: Array<Promise<void>> = [];

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
      // The reader endpoint's DNS record may have expired.
      reconcileListeners();
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
      reconcileListeners();
    },
  };

  const poolOptions = (name = host): EmulatorPoolOptions => {
    // The directory: readers added since start count, removed ones do not.
    const endpoint = directory.get(name);
    if (!endpoint) {
      throw new TypeError(
        `${name} is not an endpoint of this emulator (${listeners.map((l) => l.endpoint.host).join(', ')})`,
      );
    }
    const key = keys[0];
    return {
      host: endpoint.host,
      port: endpointPort,
      // A listener on every address is reached on the loopback address of the same family.
      connectHost: listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost === '::' ? '::1' : listenHost,
      connectPort: endpoint.port,
      ssl: { ca: certificate.caPem },
      ...(cluster && endpoint.host === host ? { topologyFailover: true as const } : {}),
      credentials: async () => {
        if (!key) throw new TypeError('the emulator trusts no key (options.keys is empty)');
        const { accessKeyId, secretAccessKey, sessionToken } = key;
        return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
      },
    };
  };

  let stopped: Promise<void> | undefined;
  const emulator: Emulator = {
    port: main.port,
    listenHost,
    host,
    endpointPort,
    region,
    engine: engine.name,
    serverVersion: greeting.serverVersion,
    ca: certificate.caPem,
    poolOptions,
    faults: emulatorFaults,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        cluster?.stop();
        const closed = listeners.map((listener) => listener.close());
        const live = [...sessions.values()];
        for (const session of live) session.destroy();
        await Promise.all([
          ...closed,
          ...retired,
          ...live.map((s) => s.closed),
          untrustedContext?.catch(() => {}),
        ]);
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
        ...(cluster ? { cluster: { ...cluster.snapshot(), auroraQueries: { ...auroraQueries } } } : {}),
      };
    },
    sessions() {
      const list: EmulatorSession[] = [];
      for (const s of sessions.values()) {
        if (!s.live) continue;
        const instance = s.route?.instance;
        list.push({
          id: s.id,
          user: s.user ?? '',
          since: s.since ?? 0,
          endpoint: s.route?.host ?? host,
          ...(instance
            ? { instanceId: instance.instanceId, role: instance.readOnly ? 'reader' : 'writer' }
            : {}),
        });
      }
      return list;
    },
  };
  if (!cluster || !readerAccounts) return emulator;
  const [clusterEndpoint, readerEndpoint] = endpoints as [ClusterEndpoint, ClusterEndpoint];
  const listenerOf = (id: string) => listeners.find((l) => l.endpoint.instanceId === id);

  const addReader = async (addOptions: AddReaderOptions = {}): Promise<ClusterEndpoint> => {
    if (
      addOptions.port !== undefined &&
      !(Number.isInteger(addOptions.port) && addOptions.port >= 0 && addOptions.port <= 65535)
    ) {
      throw new RangeError(`addReader port must be an integer from 0 to 65535, got ${addOptions.port}`);
    }
    const added = cluster.addReader(addOptions.id);
    const endpoint: ClusterEndpoint = { kind: 'instance', host: added.host, port: 0, instanceId: added.id };
    const listener = new EndpointListener(endpoint, listenHost, onConnection);
    try {
      await listener.start(addOptions.port ?? (basePort === 0 ? 0 : basePort + 1 + added.ordinal));
    } catch (err) {
      cluster.forgetReader(added.id);
      throw err;
    }
    if (stopping) {
      cluster.forgetReader(added.id);
      await listener.close();
      throw new EmulatorError(
        'EMULATOR_CLUSTER_CHANGE_REFUSED',
        'adding a reader refused: the emulator stopped meanwhile',
        'Add readers before stop().',
      );
    }
    listeners.push(listener);
    directory.add(endpoint);
    cluster.readerReady(added.id);
    return endpoint;
  };

  const removeReader = (id: string): void => {
    cluster.removeReader(id);
    const listener = listenerOf(id);
    if (!listener) return;
    listeners = listeners.filter((l) => l !== listener);
    directory.remove(listener.endpoint.host);
    retired.push(listener.close());
  };

  return {
    ...emulator,
    cluster: {
      endpoint: clusterEndpoint,
      readerEndpoint,
      get instanceEndpoints() {
        return listeners.map((l) => l.endpoint).filter((e) => e.kind === 'instance');
      },
      endpointFor: (name) => directory.get(name),
      topology: () => cluster.snapshot(),
      failover: (failoverOptions) => cluster.failover(failoverOptions),
      addReader,
      removeReader,
      failReader: (id, failure) => cluster.failReader(id, failure),
      recoverReader: (id) => cluster.recoverReader(id),
      readerAccounts: readerAccounts.list(),
    },
  } satisfies ClusterEmulator;
}
