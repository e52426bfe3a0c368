/** Why the emulator could not do what it was asked: a stable code a test or the CLI can branch on. */
export type EmulatorErrorCode =
  /** The backend did not answer (refused, timed out, or not a MySQL server). */
  | 'EMULATOR_BACKEND_UNREACHABLE'
  /** The backend answered the emulator's own start-up login with an error (wrong password, unknown user). */
  | 'EMULATOR_BACKEND_LOGIN_REFUSED'
  /** Certificates had to be generated and the optional peer dependency `node-forge` is not installed. */
  | 'EMULATOR_NODE_FORGE_MISSING'
  /** `failover()` was called while another failover was still running, or named an unknown instance. */
  | 'EMULATOR_FAILOVER_REFUSED'
  /**
   * `addReader`, `removeReader`, `failReader` or `recoverReader` could not be done (an unknown
   * instance, the writer, an instance in a running failover, 16 instances already, after stop()).
   */
  | 'EMULATOR_CLUSTER_CHANGE_REFUSED'
  /**
   * Cluster mode could not prepare the read-only backend account reader sessions log in as: the
   * backend login may not create it, or a reader account given by the caller can write.
   */
  | 'EMULATOR_READER_ACCOUNT';

/**
 * The one error class the emulator throws for things that went wrong at run time (bad option
 * values stay `TypeError` / `RangeError`). Messages name hosts, ports and user names, never a
 * password, a token or a secret key.
 */
export class EmulatorError extends Error {
  override name = 'EmulatorError';
  readonly code: EmulatorErrorCode;
  /** What to check or run to fix it. */
  readonly hint: string;

  constructor(code: EmulatorErrorCode, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = hint;
  }
}
