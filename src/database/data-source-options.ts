import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { InboxMessageEntity } from '../orders/entities/inbox-message.entity.js';
import { OrderHistoryEntity } from '../orders/entities/order-history.entity.js';
import { OrderEntity } from '../orders/entities/order.entity.js';
import { InitialSchema1732400000000 } from './migrations/1732400000000-initial-schema.js';
import { Dispatch1732500000000 } from './migrations/1732500000000-dispatch.js';
import { OrderHistory1733000000000 } from './migrations/1733000000000-order-history.js';
import { Sync1733100000000 } from './migrations/1733100000000-sync.js';
import { SupplierChecked1733200000000 } from './migrations/1733200000000-supplier-checked.js';
import { SyncRunEntity } from '../reconciliation/entities/sync-run.entity.js';
import { SyncWatermarkEntity } from '../reconciliation/entities/sync-watermark.entity.js';

export const ENTITIES = [OrderEntity, OrderHistoryEntity, InboxMessageEntity, SyncWatermarkEntity, SyncRunEntity];
export const MIGRATIONS = [
  InitialSchema1732400000000,
  Dispatch1732500000000,
  OrderHistory1733000000000,
  Sync1733100000000,
  SupplierChecked1733200000000,
];

export function dataSourceOptions(
  config: Pick<AppConfig, 'databaseUrl' | 'databasePoolMax'>,
  poolMax = config.databasePoolMax,
): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // The pool is the whole point of this service's design: small and bounded.
    extra: { max: poolMax, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000, application_name: 'ordersync' },
  };
}
