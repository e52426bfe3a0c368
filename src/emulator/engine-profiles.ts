import { Capability, type Greeting } from '../protocol/mysql-packets.js';

/** The RDS engines whose greeting the emulator can present. */
export type EngineProfileName = 'mysql8.0' | 'mysql8.4' | 'mariadb';

export interface EngineProfile {
  name: EngineProfileName;
  /** The default authentication plugin the engine names in its greeting. */
  greetingAuthPlugin: 'mysql_native_password' | 'caching_sha2_password';
  /** The version string announced when the backend is of another engine or release. */
  version: string;
  /** Whether the backend's own version string can be announced as is. */
  matchesBackend(backendVersion: string): boolean;
  /**
   * CLIENT_MYSQL (the old LONG_PASSWORD bit): MySQL sets it; MariaDB 10.2+ clears it, which tells
   * clients to read MariaDB's extended capabilities (the emulator offers none of those).
   */
  clientMysqlFlag: boolean;
}

const isMariaDb = (version: string) => /mariadb/i.test(version);

export const ENGINE_PROFILES: Readonly<Record<EngineProfileName, EngineProfile>> = {
  // RDS for MySQL 8.0 greets with mysql_native_password (its default parameter group's default plugin).
  'mysql8.0': {
    name: 'mysql8.0',
    greetingAuthPlugin: 'mysql_native_password',
    version: '8.0.39',
    matchesBackend: (v) => v.startsWith('8.0.') && !isMariaDb(v),
    clientMysqlFlag: true,
  },
  // MySQL 8.4 dropped default_authentication_plugin: RDS for MySQL 8.4 greets with caching_sha2_password.
  'mysql8.4': {
    name: 'mysql8.4',
    greetingAuthPlugin: 'caching_sha2_password',
    version: '8.4.3',
    matchesBackend: (v) => v.startsWith('8.4.') && !isMariaDb(v),
    clientMysqlFlag: true,
  },
  // MariaDB before 11 prefixes "5.5.5-" so old replication clients do not mistake 10.x for MySQL 10.
  mariadb: {
    name: 'mariadb',
    greetingAuthPlugin: 'mysql_native_password',
    version: '5.5.5-10.11.9-MariaDB',
    matchesBackend: isMariaDb,
    clientMysqlFlag: false,
  },
};

export const ENGINE_PROFILE_NAMES = Object.keys(ENGINE_PROFILES) as EngineProfileName[];

/** Suffix on every announced version, so a client (or the doctor) can tell it reached the emulator. */
export const VERSION_SUFFIX = '-rds-iam-emulator';

export function engineProfile(name: string): EngineProfile {
  if (!Object.hasOwn(ENGINE_PROFILES, name)) {
    throw new TypeError(`unknown engine '${name}'; expected one of ${ENGINE_PROFILE_NAMES.join(', ')}`);
  }
  return ENGINE_PROFILES[name as EngineProfileName];
}

/**
 * Without an explicit engine the emulator presents the backend's family: MariaDB for a MariaDB
 * backend, MySQL 8.0 (the greeting it has always sent) otherwise. Presenting MySQL in front of MariaDB changes client behaviour that
 * reaches the backend (mysql2 sends JSON parameters of execute() with a type MariaDB refuses).
 */
export function defaultEngineFor(backendVersion: string): EngineProfileName {
  return isMariaDb(backendVersion) ? 'mariadb' : 'mysql8.0';
}

/** What the greeting says: the backend's version when it is this engine's, else the profile's. */
export function announcedVersion(profile: EngineProfile, backendVersion: string): string {
  const version = profile.matchesBackend(backendVersion) ? backendVersion : profile.version;
  return `${version}${VERSION_SUFFIX}`;
}

/** Capabilities after applying the profile's CLIENT_MYSQL choice. */
export function profileCapabilities(profile: EngineProfile, capabilities: number): number {
  return profile.clientMysqlFlag
    ? (capabilities | Capability.LONG_PASSWORD) >>> 0
    : (capabilities & ~Capability.LONG_PASSWORD) >>> 0;
}

/** The greeting fields an engine profile decides, given the backend's greeting. */
export function profileGreeting(
  profile: EngineProfile,
  backend: Pick<Greeting, 'serverVersion'>,
): { serverVersion: string; authPluginName: string } {
  return {
    serverVersion: announcedVersion(profile, backend.serverVersion),
    authPluginName: profile.greetingAuthPlugin,
  };
}
