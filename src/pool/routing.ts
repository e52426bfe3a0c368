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
    const counts = this.connectionsByHost();
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
   * The connections that should move: those on a host that is no longer an available reader (left
   * the cluster, became the writer, refused logins; a fallback to the writer once a reader is back),
   * and those above a reader's fair share (an even spread, plus one where it does not divide).
   */
  surplus(): CorePoolConnection[] {
    const readers = this.#availableReaders();
    if (readers.length === 0) return [];
    const hosts = new Set(readers.map((r) => r.host));
    const all = this.#connections();
    const fairShare = Math.ceil(all.length / readers.length);
    const seen = new Map<string, number>();
    const surplus: CorePoolConnection[] = [];
    for (const connection of all) {
      const host = String(connection.config.host);
      const count = (seen.get(host) ?? 0) + 1;
      seen.set(host, count);
      if (!hosts.has(host) || count > fairShare) surplus.push(connection);
    }
    return surplus;
  }

  #availableReaders(): TopologyInstance[] {
    const now = performance.now();
    return this.#topology
      .instances()
      .filter((i) => i.role === 'reader' && (this.#coolingDown.get(i.host)?.until ?? 0) <= now);
  }
}
