import { Bench } from 'tinybench';

export interface TimedTask {
  name: string;
  fn: () => Promise<unknown>;
}

/** One task's figures from one round. */
export interface RoundResult {
  /**
   * Median time of one call, in ms: the typical call, not the few that another process's burst of
   * work (the machine is shared) landed on.
   */
  medianMs: number;
  samples: number;
  /** Relative margin of error of the mean, in percent (95 %). */
  rme: number;
}

export interface RoundOptions {
  rounds: number;
  /** Time budget per task per round, in ms. */
  timeMs: number;
  warmupMs: number;
}

/**
 * Runs the tasks with tinybench in several short rounds instead of one long one, rotating the
 * order each round: a paired ratio per round is then robust to load that comes and goes.
 */
export async function timedRounds(
  tasks: readonly TimedTask[],
  options: RoundOptions,
): Promise<Record<string, RoundResult[]>> {
  const results: Record<string, RoundResult[]> = Object.fromEntries(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({
      time: options.timeMs,
      iterations: 5,
      warmupTime: options.warmupMs,
      warmupIterations: 2,
      throws: true,
    });
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[(round + i) % tasks.length];
      if (task) bench.add(task.name, task.fn);
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
      results[task.name]?.push({
        medianMs: result.latency.p50,
        samples: result.latency.samplesCount,
        rme: result.latency.rme,
      });
    }
  }
  return results;
}
