/** Settles with the promise's value, or 'timed-out' once `ms` have passed (the promise goes on). */
export function withBound<T>(promise: Promise<T>, ms: number): Promise<T | 'timed-out'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
