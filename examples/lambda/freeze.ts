/**
 * Blocks this thread for `ms`: no timer, socket event or promise callback runs meanwhile, as in a
 * Lambda execution environment frozen between invocations. Sockets closed by the server during
 * the freeze are noticed only after the next invocation has started.
 */
export function freezeProcess(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
