import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { TopologyInstance } from '../diagnostics.js';
import type { AuroraTopology } from './topology.js';

/** Where a pool's new connections go (see WriterRoute and ReaderRoute). */
export interface ConnectionRoute {
  /** Resolves when the route knows enough to choose (a reader pool waits for the first topology read). */
  ready(): Promise<void>;
  /** The host for the connection being opened now (mysql2's stream factory asks, once per connection). */
  next(): string;
  /** The host the last next() chose: the one a login that just started is going to. */
  readonly lastChosen: string | undefined;
  /**
   * A login to `host` failed on the network or reached the wrong role: 'elsewhere' when another host
   * can take the next attempt at once, 'everywhere' when the endpoint as a whole is failing.
   */
  failed(host: string): 'elsewhere' | 'everywhere';
  /** A login to `host` worked. */
  succeeded(host: string): void;
  /** Whether a connection to `host` may be on the writer (a reader pool falling back to it). */
  allowsWriter(host: string): boolean;
}

/** A writer pool's route: the endpoint it was given, or the writer the topology found. */
export class WriterRoute implements ConnectionRoute {
  readonly #host: string;
  readonly #topology: AuroraTopology | undefined;
  lastChosen: string | undefined;

  constructor(host: string, topology: AuroraTopology | undefined) {
    this.#host = host;
    this.#topology = topology;
  }

  async ready(): Promise<void> {}

  next(): string {
    this.lastChosen = this.#topology?.target() ?? this.#host;
    return this.lastChosen;
  }

  failed(): 'everywhere' {
    return 'everywhere';
  }

  succeeded(): void {}

  allowsWriter(): boolean {
    return true;
  }
}

export interface ReaderRouteSettings {
  /** The cluster's reader endpoint (`cluster-ro-`): where connections go before the topology is known. */
  readerEndpoint: string;
  /** With no reader left, open connections to the writer (made read-only) instead of waiting. */
  fallbackToWriter: boolean;
  /** How long a reader that refused a login is passed over (doubling per failure in a row, up to 8x). */
  cooldownMs: number;
}

/**
 * A reader pool's route: each new connection goes to the reader instance (its own endpoint) with
 * the fewest of this pool's connections, among the readers the topology lists and that did not just
 * refuse a login. Readers added by Auto Scaling get the next connections; `rebalance()` moves
 * connections off readers that hold more than their share, that left the cluster, or that became
 * the writer. With no reader left it waits (the reader endpoint, whose check finds the writer and
 * retries), or, with `fallbackToWriter`, goes to the writer.
 */
export class ReaderRoute implements ConnectionRoute {
  readonly #topology: AuroraTopology;
  readonly #connections: () => CorePoolConnection[];
  readonly #settings: ReaderRouteSettings;
  /** Readers that refused a login: passed over until then (performance.now()), and failures in a row. */
  readonly #coolingDown = new Map<string, { until: number; failures: number }>();
  /** The readers the topology listed at the last rebalance (see #forgiveReturning). */
  readonly #listed = new Set<string>();
  /** Connections surplus() chose to move that are still in the pool (borrowed ones leave when released). */
  readonly #leaving = new Set<CorePoolConnection>();
  /**
   * Moved connections that have left the pool and that no new login has replaced yet. They will be
   * opened on the readers with the fewest, so surplus() counts them there: a rebalance that runs
   * again before the replacements logged in (two topology events in a row, the periodic one, an
   * idle pool where nothing replaces them) moves nothing more.
   */
  #awaitingReplacement = 0;
  lastChosen: string | undefined;

  constructor(
    topology: AuroraTopology,
    connections: () => CorePoolConnection[],
    settings: ReaderRouteSettings,
  ) {
    this.#topology = topology;
    this.#connections = connections;
    this.#settings = settings;
  }

  ready(): Promise<void> {
    return this.#topology.known();
  }

  next(): string {
    const readers = this.#availableReaders();
    if (readers.length === 0) {
      const writer = this.#topology.stats().writer;
      this.lastChosen =
        this.#settings.fallbackToWriter && writer !== undefined ? writer : this.#settings.readerEndpoint;
      return this.lastChosen;
    }
    const counts = this.#stayingByHost();
    let best = readers[0] as TopologyInstance;
    for (const reader of readers) {
      if ((counts.get(reader.host) ?? 0) < (counts.get(best.host) ?? 0)) best = reader;
    }
    this.lastChosen = best.host;
    return best.host;
  }

  failed(host: string): 'elsewhere' | 'everywhere' {
    const previous = this.#coolingDown.get(host)?.failures ?? 0;
    const failures = previous + 1;
    const factor = 2 ** Math.min(3, failures - 1);
    this.#coolingDown.set(host, { until: performance.now() + this.#settings.cooldownMs * factor, failures });
    return this.#availableReaders().length > 0 ? 'elsewhere' : 'everywhere';
  }

  succeeded(host: string): void {
    this.#coolingDown.delete(host);
    // A new connection: it replaces a moved one that has left, if one is waiting for it.
    this.#countDepartures();
    if (this.#awaitingReplacement > 0) this.#awaitingReplacement--;
  }

  allowsWriter(host: string): boolean {
    return (
      this.#settings.fallbackToWriter &&
      this.#availableReaders().length === 0 &&
      host === this.#topology.stats().writer
    );
  }

  /** This pool's connections per host (open and opening). */
  connectionsByHost(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const connection of this.#connections()) {
      const host = String(connection.config.host);
      counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * The connections that should move: those on a host that is no longer a reader (left the cluster,
   * became the writer; a fallback to the writer once a reader is back), and those above a reader's
   * quota. The quotas split the pool's connections evenly over the readers, counting the ones
   * elsewhere, the ones already leaving and the moved ones not yet replaced (all of them will be
   * placed on the readers with the fewest, next()); the remainder of the division goes to the
   * readers that hold the most now, so that as few connections as possible move, and once they are
   * placed, connections per reader differ by at most one. (A bound of ceil(connections / readers)
   * for every reader is not enough: 6 connections on 3 readers, 2/2/2, left a 4th reader with none.)
   * A reader whose last login failed (down, or refusing; the topology may still list it during a
   * failover) is left as it is until a login there works again or the topology lists it anew: no
   * connection moves to it (its login would fail) and none away from it (what is open there works).
   * What it returns is leaving from now on: the pool retires it.
   */
  surplus(): CorePoolConnection[] {
    this.#countDepartures();
    const listed = this.#topology
      .instances()
      .filter((i) => i.role === 'reader')
      .map((i) => i.host);
    this.#forgiveReturning(listed);
    const proven = listed.filter((host) => !this.#coolingDown.has(host));
    if (proven.length === 0) return [];
    const all = this.#connections();
    const counts = this.#stayingByHost();
    const quotas = new Map<string, number>();
    let kept = 0;
    for (const host of listed) {
      if (!this.#coolingDown.has(host)) continue;
      quotas.set(host, counts.get(host) ?? 0);
      kept += counts.get(host) ?? 0;
    }
    const total = all.length + this.#awaitingReplacement - kept;
    const base = Math.floor(total / proven.length);
    let remainder = total % proven.length;
    // Most connections first; ties by name, so that repeated calls choose the same connections.
    const byLoad = proven.sort(
      (a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0),
    );
    for (const host of byLoad) {
      quotas.set(host, base + (remainder > 0 ? 1 : 0));
      remainder = Math.max(0, remainder - 1);
    }
    const seen = new Map<string, number>();
    const surplus: CorePoolConnection[] = [];
    for (const connection of all) {
      if (this.#leaving.has(connection)) continue;
      const host = String(connection.config.host);
      const count = (seen.get(host) ?? 0) + 1;
      seen.set(host, count);
      if (count > (quotas.get(host) ?? 0)) surplus.push(connection);
    }
    for (const connection of surplus) this.#leaving.add(connection);
    return surplus;
  }

  /**
   * A reader the topology lists again after it had left (it recovered, or was added back) gets
   * another chance: its failed logins are forgotten.
   */
  #forgiveReturning(listed: string[]): void {
    for (const host of listed) if (!this.#listed.has(host)) this.#coolingDown.delete(host);
    this.#listed.clear();
    for (const host of listed) this.#listed.add(host);
  }

  /** Moved connections that have left the pool since last asked now await a replacement. */
  #countDepartures(): void {
    if (this.#leaving.size === 0) return;
    const present = new Set(this.#connections());
    for (const connection of this.#leaving) {
      if (present.has(connection)) continue;
      this.#leaving.delete(connection);
      this.#awaitingReplacement++;
    }
  }

  /** This pool's connections per host, without those leaving (moved by surplus(), not yet released). */
  #stayingByHost(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const connection of this.#connections()) {
      if (this.#leaving.has(connection)) continue;
      const host = String(connection.config.host);
      counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    return counts;
  }

  #availableReaders(): TopologyInstance[] {
    const now = performance.now();
    return this.#topology
      .instances()
      .filter((i) => i.role === 'reader' && (this.#coolingDown.get(i.host)?.until ?? 0) <= now);
  }
}
