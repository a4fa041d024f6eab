import type { DataSource, EntityManager } from 'typeorm';

/** Where a statement runs: the pool (its own transaction) or a transaction in progress. */
export type Db = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

/**
 * Rows of an UPDATE or DELETE ... RETURNING. TypeORM's postgres driver answers those with
 * [rows, affectedCount] rather than the rows an INSERT or SELECT gives.
 */
export async function returningRows<T>(db: Db, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}
