/** Removed entries kept at the front of the queue before it is compacted. */
const COMPACT_AFTER = 32;

/** An item's place in a WaitQueue: its deadline, and the item until it leaves the queue. */
export interface Place<T> {
  readonly at: number;
  item: T | undefined;
}

/**
 * Callers waiting for a connection, first come first served, each until its own deadline, under a
 * single timer: waiting costs an array push and a shift instead of a setTimeout and a clearTimeout
 * of its own. Every caller waits the same `acquireTimeoutMs`, so deadlines arrive in the order the
 * callers did and the queue is ordered by both; a caller that comes back (its connection turned out
 * dead) goes in at its old deadline, near the front. With more callers than connections most borrows
 * wait here, so this is on the hot path of a busy pool.
 */
export class WaitQueue<T> {
  readonly #expired: (item: T) => void;
  readonly #now: () => number;
  #queue: Place<T>[] = [];
  #head = 0;
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  /** `expired` gets each item whose deadline passed while it was still queued. */
  constructor(expired: (item: T) => void, now: () => number = () => performance.now()) {
    this.#expired = expired;
    this.#now = now;
  }

  /** Items waiting now. */
  get size(): number {
    return this.#size;
  }

  /** Queues `item` until `at` (a time of the queue's clock); returns its place, for `remove`. */
  add(item: T, at: number): Place<T> {
    this.#dropRemovedFront();
    const place: Place<T> = { at, item };
    let index = this.#queue.length;
    // Almost always appended; a caller coming back goes in at its own deadline.
    while (index > this.#head && (this.#queue[index - 1] as Place<T>).at > at) index--;
    if (index === this.#queue.length) this.#queue.push(place);
    else this.#queue.splice(index, 0, place);
    this.#size++;
    if (at < this.#timerAt) this.#arm(at);
    return place;
  }

  /** Takes the first item out (the one waiting longest), or undefined when none waits. */
  shift(): T | undefined {
    this.#dropRemovedFront();
    if (this.#head === this.#queue.length) return undefined;
    const place = this.#queue[this.#head++] as Place<T>;
    const item = place.item;
    place.item = undefined;
    this.#left();
    return item;
  }

  /** Takes an item out before its deadline. */
  remove(place: Place<T>): void {
    if (place.item === undefined) return;
    place.item = undefined;
    this.#left();
  }

  /** One item left before its deadline; with none left, no timer stays (nor keeps the process up). */
  #left(): void {
    this.#size--;
    if (this.#size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
    }
  }

  /** Stops the timer and empties the queue, returning what was waiting (the pool is ending). */
  close(): T[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const items: T[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const place = this.#queue[i] as Place<T>;
      if (place.item !== undefined) items.push(place.item);
      place.item = undefined;
    }
    this.#queue = [];
    this.#head = 0;
    this.#size = 0;
    return items;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(at - this.#now())));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#now();
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head] as Place<T>;
      if (next.item !== undefined && next.at > now) break;
      this.#head++;
      const item = next.item;
      if (item === undefined) continue;
      next.item = undefined;
      this.#size--;
      this.#expired(item);
    }
    // Removed items in front do not keep a timer alive on their own.
    this.#dropRemovedFront();
    if (this.#head < this.#queue.length) this.#arm((this.#queue[this.#head] as Place<T>).at);
  }

  /**
   * Items mostly leave in the order they came, so the removed ones gather at the front: dropping
   * them there keeps the array as long as the number of callers waiting. It is compacted once the
   * dropped part is both past COMPACT_AFTER and larger than the rest (each add copies at most one
   * entry, amortised), so a busy pool does not keep thousands of dead entries for the garbage
   * collector to walk (docs/performance.md has the measurement).
   */
  #dropRemovedFront(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]?.item === undefined) this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
