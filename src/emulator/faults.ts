/** The fault switches a test flips to make the emulator misbehave the way RDS (or a network) can. */
export interface EmulatorFaults {
  /** The next n otherwise-valid IAM logins get 1045 (reason 'fault-injected'). */
  rejectNextLogins(n: number): void;
  /** Logins beyond n in any sliding 1 s window get 1045 (reason 'rate-limited'); null removes the cap. */
  capLoginsPerSecond(n: number | null): void;
  /** Destroys every client socket and its backend session. */
  dropAllConnections(): void;
  /** Destroys one connection (the id the greeting carried, as listed by sessions()). */
  dropConnection(id: number): void;
  /** Waits this long before sending the greeting; 0 turns it off. */
  delayHandshake(ms: number): void;
  /** Adds ms to the emulator's clock offset (cumulative). */
  shiftClock(ms: number): void;
  /** New TCP connections are closed at once, without a greeting. */
  stopAccepting(): void;
  resumeAccepting(): void;
  /** Serve a server certificate from a different, freshly generated CA. */
  useUntrustedCertificate(on: boolean): void;
  /** Clears every fault, the clock offset included: afterwards the emulator behaves as freshly started. */
  reset(): void;
}

const RATE_WINDOW_MS = 1000;

/** Fault state plus the login-admission decisions that depend on it. */
export class FaultState {
  rejectRemaining = 0;
  loginsPerSecond: number | null = null;
  handshakeDelayMs = 0;
  clockOffsetMs = 0;
  accepting = true;
  untrustedCertificate = false;
  private admittedAt: number[] = [];

  reset(): void {
    this.rejectRemaining = 0;
    this.loginsPerSecond = null;
    this.handshakeDelayMs = 0;
    this.clockOffsetMs = 0;
    this.accepting = true;
    this.untrustedCertificate = false;
    this.admittedAt = [];
  }

  /**
   * Decides whether a login whose token verified may proceed. Only admitted logins count toward
   * the rate cap, so a client that backs off gets in again once the window has slid past.
   */
  admitLogin(nowMs: number): 'fault-injected' | 'rate-limited' | null {
    if (this.rejectRemaining > 0) {
      this.rejectRemaining--;
      return 'fault-injected';
    }
    if (this.loginsPerSecond !== null) {
      this.admittedAt = this.admittedAt.filter((t) => t > nowMs - RATE_WINDOW_MS);
      if (this.admittedAt.length >= this.loginsPerSecond) return 'rate-limited';
      this.admittedAt.push(nowMs);
    }
    return null;
  }
}

export function validateNonNegative(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be a non-negative number, got ${n}`);
  return n;
}
