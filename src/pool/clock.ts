/**
 * The pool's monotonic clock, in ms: performance.now(), bound once. The pool reads it a few times per
 * borrow, and a read through the global `performance` costs more than this one (docs/performance.md,
 * "Hot path"). Unit tests with fake timers hand their own clock to the parts they test.
 */
export const monotonicNow: () => number = performance.now.bind(performance);
