import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { DIAGNOSTICS_CHANNELS, type IamPool } from '../../src/index.js';
import { type LeakFinding, SecretRegistry, scanText } from './leak-scanner.js';

const INSPECT = {
  depth: 6,
  maxStringLength: Number.POSITIVE_INFINITY,
  breakLength: Number.POSITIVE_INFINITY,
};
const POOL_EVENTS = ['tokenSigned', 'retry', 'connectFailed', 'connectionRetired', 'acquireTimeout'] as const;

/**
 * The chaos run's share of the secret-leak scan: every error a request failed with, every pool
 * event and every message on the library's diagnostics channels during a scenario, inspected and
 * checked against the keys the scenario's emulator trusts and anything token-shaped. Faults make
 * the unusual error paths run, which is where a token would slip into a message.
 */
export class LeakCheck {
  readonly #secrets = new SecretRegistry();
  readonly #findings: LeakFinding[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  #scanned = 0;

  constructor(keys: ReadonlyArray<{ secretAccessKey: string; sessionToken?: string }>) {
    for (const key of keys) {
      this.#secrets.add('a secret access key', key.secretAccessKey);
      this.#secrets.add('a session token', key.sessionToken);
    }
    for (const name of Object.values(DIAGNOSTICS_CHANNELS)) {
      const onMessage = (message: unknown) => this.scan(`diagnostics_channel ${name}`, message);
      subscribe(name, onMessage);
      this.#unsubscribe.push(() => unsubscribe(name, onMessage));
    }
  }

  /** Listens to every event of `pool.iam`. */
  watch(pool: IamPool): void {
    for (const event of POOL_EVENTS) {
      const listener = (payload: unknown) => this.scan(`event ${event}`, payload);
      (pool.iam as unknown as NodeJS.EventEmitter).on(event, listener);
    }
  }

  scan(source: string, value: unknown): void {
    this.#scanned++;
    const text = typeof value === 'string' ? value : inspect(value, INSPECT);
    const extra = value instanceof Error ? `${value.stack ?? ''} ${JSON.stringify(value)}` : '';
    this.#findings.push(...scanText(source, `${text} ${extra}`, this.#secrets));
  }

  get scanned(): number {
    return this.#scanned;
  }

  get findings(): readonly LeakFinding[] {
    return this.#findings;
  }

  close(): void {
    for (const stop of this.#unsubscribe.splice(0)) stop();
  }
}
