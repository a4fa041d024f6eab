import type { EntityManager, DataSource } from 'typeorm';

/**
 * Rows of an UPDATE or DELETE ... RETURNING. TypeORM's postgres driver answers those with
 * [rows, affectedCount] rather than the rows an INSERT or SELECT gives.
 */
export async function returningRows<T>(db: EntityManager | DataSource, sql: string, params: unknown[]): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}
