/**
 * The connection layer: the one place that turns resolved IAM options into the mysql2 connection
 * options every IAM connection is opened with (TLS, the auth plugins, the tunnel stream), for
 * `createIamPool`, `createIamConnectionOptions`, every adapter and the doctor alike, and the one
 * check of what mysql2 will really use, after every merge.
 */
import { connect, type Socket } from 'node:net';
import type { AuthPlugin, ConnectionOptions, SslOptions } from 'mysql2';
import { describeValue, IamOptionsError } from '../errors.js';
import { createIamAuthPlugins, type LoginHooks } from '../login/auth-plugin.js';
import { effectiveConnectionConfig, routeNewConnection, streamKeepAlive } from '../mysql2-boundary.js';
import { debugRefused, ownedOptionRefused, type ResolvedIamOptions } from '../options.js';
import { buildSslOptions, checkSslOptions } from '../tls/ssl-options.js';

/** What IAM login puts into mysql2's connection options. */
export interface IamConnectionParts {
  host: string;
  port: number;
  user: string;
  ssl: SslOptions;
  authPlugins: Record<string, AuthPlugin>;
  /** With `connectHost` / `connectPort` only. */
  stream?: (options: unknown) => Socket;
}

/**
 * The mysql2 options for one IAM login identity: the caller's pass-through options, then ours.
 * The auth plugin checks each connection's effective options again before it sends a token, so an
 * option that reaches mysql2 later by another route (a library's own merge) is caught there too.
 */
export function iamConnectionOptions(
  resolved: ResolvedIamOptions,
  hooks: LoginHooks,
  route?: () => string,
): ConnectionOptions & IamConnectionParts {
  const stream = route ? routedStream(resolved, route) : tunnelStream(resolved);
  const ssl = buildSslOptions(resolved.ssl);
  const parts: IamConnectionParts = {
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    ssl,
    authPlugins: {},
    ...(stream ? { stream } : {}),
  };
  parts.authPlugins = createIamAuthPlugins({
    ...hooks,
    checkConnection: (config) => checkEffectiveConfig(config, parts),
  });
  return { ...(resolved.passThrough as ConnectionOptions), ...parts };
}

/**
 * mysql2's `stream` option for `connectHost` / `connectPort` / `connectTo` (SSH tunnel, port-forward,
 * emulator). mysql2 takes the TLS server name and certificate check from `host`, so `host` stays the
 * RDS endpoint name and only the TCP connection goes elsewhere.
 */
function tunnelStream(resolved: ResolvedIamOptions): ((options: unknown) => Socket) | undefined {
  if (resolved.connectHost === undefined && resolved.connectPort === undefined && !resolved.connectTo)
    return undefined;
  return (options) => {
    const address = addressOf(resolved, resolved.host);
    return mysql2Socket(address.port, address.host, options);
  };
}

/**
 * mysql2's `stream` option for a pool that picks each new connection's host (an Aurora failover:
 * the new writer's instance endpoint): the connection's TLS server name, certificate check and
 * token follow that host, and TCP goes to it (or where the tunnel options say).
 */
function routedStream(resolved: ResolvedIamOptions, route: () => string): (options: unknown) => Socket {
  return (options) => {
    const host = route();
    routeNewConnection(options, host);
    const address = addressOf(resolved, host);
    return mysql2Socket(address.port, address.host, options);
  };
}

/** The TCP address for an endpoint name: the name itself, or what the tunnel options say. */
export function addressOf(resolved: ResolvedIamOptions, host: string): { host: string; port: number } {
  if (!resolved.connectTo)
    return { host: resolved.connectHost ?? host, port: resolved.connectPort ?? resolved.port };
  const address = resolved.connectTo(host, resolved.port);
  const { host: to, port } = (address ?? {}) as { host?: unknown; port?: unknown };
  if (
    typeof to !== 'string' ||
    to === '' ||
    typeof port !== 'number' ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535
  ) {
    throw new IamOptionsError(
      'connectTo',
      `returned ${describeValue(address)} for ${host}, not { host, port }`,
      'Return the TCP host and port to dial for every endpoint name the pool asks for (instance endpoints too).',
    );
  }
  return { host: to, port };
}

/**
 * A TCP connection set up as mysql2 sets up the ones it opens itself, which it does not do for a
 * `stream` factory's: TCP_NODELAY (a query or the TLS ClientHello that follows the SSL request is sent
 * at once, not held back by Nagle's algorithm), and keep-alive once connected unless the connection's
 * `enableKeepAlive` is false, after `keepAliveInitialDelay` (the OS default, 2 hours on Linux, when
 * unset: set it below a NAT gateway's idle timeout, 350 s on AWS, to keep idle connections through one).
 */
function mysql2Socket(port: number, host: string, streamOptions: unknown): Socket {
  const keepAlive = streamKeepAlive(streamOptions);
  const socket = connect(port, host);
  socket.setNoDelay(true);
  if (keepAlive.enabled) {
    socket.once('connect', () => socket.setKeepAlive(true, keepAlive.initialDelayMs));
  }
  return socket;
}

/**
 * Checks options as mysql2 will use them (`uri` query parameters applied, defaults filled in) against
 * what IAM login needs: no debug output (it prints the login packet), no socket but ours, no
 * password, our auth plugins only, and verified TLS 1.2+ with a real CA. Throws IamOptionsError.
 */
export function checkConnectionOptions(options: ConnectionOptions, ours: IamConnectionParts): void {
  checkEffectiveConfig(effectiveConnectionConfig(options), ours);
}

/** The same check on a config mysql2 already derived (a pool's, or a connection's at login). */
export function checkEffectiveConfig(config: Record<string, unknown>, ours: IamConnectionParts): void {
  if (config.debug) throw debugRefused();
  if (config.socketPath !== undefined && config.socketPath !== null) {
    throw ownedOptionRefused('socketPath');
  }
  if ((config.stream ?? undefined) !== ours.stream) throw ownedOptionRefused('stream');
  for (const field of ['password', 'password1', 'password2', 'password3', 'passwordSha1'] as const) {
    if (config[field] !== undefined && config[field] !== null && config[field] !== '')
      throw ownedOptionRefused(field);
  }
  if (!sameAuthPlugins(config.authPlugins, ours.authPlugins)) throw ownedOptionRefused('authPlugins');
  if (config.authSwitchHandler !== undefined && config.authSwitchHandler !== null) {
    throw ownedOptionRefused('authSwitchHandler');
  }
  checkSslOptions(config.ssl, 'ssl');
}

/**
 * Our plugins, and only them. Compared plugin by plugin: a library may copy the options object
 * (Sequelize clones its dialectOptions), which keeps the functions but not the map.
 */
function sameAuthPlugins(actual: unknown, ours: Record<string, AuthPlugin>): boolean {
  if (actual === ours) return true;
  if (actual === null || typeof actual !== 'object') return false;
  const plugins = actual as Record<string, unknown>;
  const names = Object.keys(ours);
  return Object.keys(plugins).length === names.length && names.every((name) => plugins[name] === ours[name]);
}
