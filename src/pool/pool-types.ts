import type { Pool as CorePool } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import type { PoolConnectionCounts } from '../errors.js';
import type { IamHandle, IamLoginStats } from '../login/login.js';
import type { AcquireTimePercentiles } from './acquire-times.js';
import type { IamPoolEvents, PoolCounters } from './report.js';
import type { TopologyStats } from './topology.js';

export type { IamPoolEvents } from './report.js';

/** A pool's counts: its logins' (see IamLoginStats) and what the pool itself did. */
export interface IamPoolStats extends IamLoginStats, PoolCounters {
  /** Logins that waited for their turn under `maxLoginsPerSecond`. */
  loginsDelayed: number;
  /** The pool right now. */
  connections: PoolConnectionCounts;
  /** How long the latest borrows waited for a connection, in ms. */
  acquireTimeMs: AcquireTimePercentiles;
  /** When the pool follows an Aurora cluster's topology: its instances, the writer, where new connections go. */
  topology?: TopologyStats;
  /** A reader pool's connections per reader instance endpoint (open and opening). */
  connectionsByInstance?: Record<string, number>;
}

/** The IAM side of a pool (`pool.iam`): stats, events, the current token's times, `invalidateToken()`. */
export type IamPoolHandle = IamHandle<IamPoolStats, IamPoolEvents>;

/** A mysql2/promise pool whose connections log in with IAM tokens. `pool.pool` is the callback pool. */
export type IamPool = Pool & {
  readonly iam: IamPoolHandle;
  readonly pool: CorePool & { readonly iam: IamPoolHandle };
};
