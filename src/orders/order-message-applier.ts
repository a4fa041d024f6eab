import { Injectable, Logger } from '@nestjs/common';
import { isDataError, isInfrastructureError } from '../queues/infrastructure-errors.js';
import type { InboundMessage, MessageSource, SupplierStatusChange } from '../queues/order-events.queue.js';
import type { Db } from './repositories/db.js';
import { InboxRepository, inboxKey, type InboxEntry } from './repositories/inbox.repository.js';
import { OrderHistoryRepository, type HistoryEntry } from './repositories/order-history.repository.js';
import { OrdersRepository, type LockedOrder, type Placeholder } from './repositories/orders.repository.js';
import { planSupplierUpdates, type CurrentSupplierStatus, type IncomingChange } from './supplier-status-plan.js';

export type ApplyOutcome = 'applied' | 'ignored' | 'duplicate';

/** The id an EXTERNAL order gets when it holds a supplier order's messages until one of ours claims it. */
export function placeholderIdOf(source: MessageSource, supplierOrderId: string): string {
  return `${source === 'orders' ? 'orders' : '1688'}-${supplierOrderId}`;
}

/** How many other ids a placeholder tries when its natural id is taken by an unrelated order. */
const PLACEHOLDER_ID_TRIES = 20;

/** Why a message's own content cannot be applied, or null. Caught at the door normally; checked again here. */
export function unapplicableReason(message: InboundMessage): string | null {
  for (const change of message.changes) {
    if (!Number.isFinite(Date.parse(change.occurredAt))) return `its time "${change.occurredAt}" is not a date`;
    if (!Number.isSafeInteger(change.bornAt)) return `its gmtBorn ${String(change.bornAt)} is not a time in milliseconds`;
    if (change.orderId === null && change.supplierOrderId === null) return 'it names no order';
  }
  return null;
}

/**
 * Applies messages to orders, a whole batch per transaction with set-based SQL: the inbox
 * dedupes, EXTERNAL placeholders are created for orders nobody has yet, and each order's
 * supplier status moves only forward in supplier time. A batch that fails for a reason other
 * than our infrastructure is split in halves until the message at fault stands alone; when
 * Postgres refused that message's values it is recorded as ignored with the reason, so it never
 * holds the others back, and any other error fails the job to be retried.
 */
@Injectable()
export class OrderMessageApplier {
  private readonly logger = new Logger(OrderMessageApplier.name);

  constructor(
    private readonly orders: OrdersRepository,
    private readonly history: OrderHistoryRepository,
    private readonly inbox: InboxRepository,
  ) {}

  /** One outcome per message; throws only when the infrastructure is away (or recording a fault failed too). */
  async apply(messages: InboundMessage[]): Promise<ApplyOutcome[]> {
    if (messages.length === 0) return [];
    try {
      return await this.orders.transaction((db) => this.applyIn(db, messages));
    } catch (error) {
      if (isInfrastructureError(error)) throw error;
      if (messages.length === 1) {
        // Only Postgres refusing the message's own values makes it the message's fault; any
        // other error may be ours, so the job retries rather than drop an acknowledged push.
        if (!isDataError(error)) throw error;
        return [await this.recordUnapplicable(messages[0], error)];
      }
      const half = Math.ceil(messages.length / 2);
      return [...(await this.apply(messages.slice(0, half))), ...(await this.apply(messages.slice(half)))];
    }
  }

  private async applyIn(db: Db, messages: InboundMessage[]): Promise<ApplyOutcome[]> {
    // The same message twice in one batch: the inbox keeps the first.
    const unique = [...new Map(messages.map((m) => [inboxKey(m.source, m.messageId), m])).values()];
    const reasons = new Map(
      unique.map((m) => [m, m.ignoredReason ?? (unapplicableReason(m) ? `cannot be applied: ${unapplicableReason(m)}` : null)]),
    );
    const fresh = await this.inbox.recordNew(
      db,
      unique.map((m) => inboxEntry(m, reasons.get(m) ?? null)),
    );
    const toApply = unique.filter((m) => fresh.has(inboxKey(m.source, m.messageId)) && reasons.get(m) === null && m.changes.length > 0);
    const unapplicable = unique.filter(
      (m) => fresh.has(inboxKey(m.source, m.messageId)) && m.ignoredReason === null && reasons.get(m) !== null,
    );
    if (toApply.length > 0) await this.applyChanges(db, toApply);
    if (unapplicable.length > 0)
      await this.recordIgnoredInHistory(
        db,
        unapplicable.map((m) => ({ message: m, reason: reasons.get(m) as string })),
      );

    const seen = new Set<string>();
    return messages.map((m) => {
      const key = inboxKey(m.source, m.messageId);
      if (!fresh.has(key) || seen.has(key)) return 'duplicate';
      seen.add(key);
      return reasons.get(m) === null ? 'applied' : 'ignored';
    });
  }

  private async applyChanges(db: Db, messages: InboundMessage[]): Promise<void> {
    const changes = messages.flatMap((message) => message.changes.map((change) => ({ message, change })));
    await this.orders.insertPlaceholders(db, placeholdersFor(changes));
    const orderIds = unique(changes.map(({ change }) => change.orderId));
    const supplierIds = unique(changes.map(({ change }) => change.supplierOrderId));
    let rows = await this.orders.lockForChange(db, orderIds, supplierIds);
    let find = orderFinder(rows);
    const homeless = changes.filter(({ change }) => !find(change));
    if (homeless.length > 0) {
      rows = [...rows, ...(await this.placeholdersUnderOtherIds(db, homeless))];
      find = orderFinder(rows);
    }
    const incoming: IncomingChange[] = changes.map(({ message, change }) => {
      const row = find(change);
      if (!row) throw new Error(`no order for message ${message.source}/${message.messageId} after creating placeholders`);
      return {
        orderId: row.id,
        source: message.source,
        messageId: message.messageId,
        topic: message.topic,
        status: change.status,
        occurredAt: Date.parse(change.occurredAt),
        bornAt: change.bornAt,
      };
    });
    const current = new Map<string, CurrentSupplierStatus>(
      rows.map((row) => [row.id, { orderId: row.id, status: row.supplierStatus, stamp: row.stamp }]),
    );
    const plan = planSupplierUpdates(current, incoming);
    await this.orders.updateSupplierStatuses(db, plan.updates);
    await this.history.append(
      db,
      plan.events.map((e) => ({
        orderId: e.orderId,
        kind: 'supplier_message',
        source: e.source,
        messageId: e.messageId,
        topic: e.topic,
        supplierStatus: e.status,
        occurredAtMs: e.occurredAt,
        outcome: e.outcome,
        reason: e.reason,
      })),
    );
  }

  /**
   * Supplier orders whose placeholder could not take its natural id (`1688-<id>` is an order of
   * ours that holds no supplier order, or another one): their placeholders take `1688-<id>-2`,
   * `-3`, … instead, so that the messages are kept and a later dispatch can still merge them.
   */
  private async placeholdersUnderOtherIds(
    db: Db,
    homeless: { message: InboundMessage; change: SupplierStatusChange }[],
  ): Promise<LockedOrder[]> {
    const wanted = placeholdersFor(
      homeless
        .filter(({ change }) => change.supplierOrderId !== null)
        .map(({ message, change }) => ({ message, change: { ...change, orderId: null } })),
    );
    for (const placeholder of wanted) {
      const candidates = Array.from({ length: PLACEHOLDER_ID_TRIES }, (_, i) => `${placeholder.id}-${i + 2}`);
      const taken = await this.orders.existingIds(db, candidates);
      const id = candidates.find((candidate) => !taken.has(candidate));
      if (!id) throw new Error(`no free id for the EXTERNAL order of supplier order ${placeholder.supplierOrderId}`);
      await this.orders.insertPlaceholders(db, [{ ...placeholder, id }]);
      this.logger.warn({
        msg: 'placeholder id taken by an unrelated order; used another',
        supplierOrderId: placeholder.supplierOrderId,
        taken: placeholder.id,
        id,
      });
    }
    return this.orders.lockForChange(db, [], unique(wanted.map((p) => p.supplierOrderId)));
  }

  /** Messages whose content cannot be applied: kept in the history of the orders they name that exist. */
  private async recordIgnoredInHistory(db: Db, items: { message: InboundMessage; reason: string }[]): Promise<void> {
    const changes = items.flatMap(({ message, reason }) => message.changes.map((change) => ({ message, change, reason })));
    const find = orderFinder(
      await this.orders.lockForChange(
        db,
        unique(changes.map((c) => c.change.orderId)),
        unique(changes.map((c) => c.change.supplierOrderId)),
      ),
    );
    const entries: HistoryEntry[] = [];
    for (const { message, change, reason } of changes) {
      const row = find(change);
      if (!row) continue;
      const at = Date.parse(change.occurredAt);
      entries.push({
        orderId: row.id,
        kind: 'supplier_message',
        source: message.source,
        messageId: message.messageId,
        topic: message.topic,
        supplierStatus: change.status,
        occurredAtMs: Number.isFinite(at) ? at : null,
        outcome: 'ignored',
        reason,
      });
    }
    await this.history.append(db, entries);
  }

  /**
   * A message that failed on its own: ignored, with why, in the inbox and, where it can be, in
   * its order's history. The inbox row commits first: the history line is worth trying, but the
   * same fault that stopped the message may stop it too (a value Postgres cannot store).
   */
  private async recordUnapplicable(message: InboundMessage, error: unknown): Promise<ApplyOutcome> {
    const reason = `cannot be applied: ${(error as Error).message ?? String(error)}`.slice(0, 1_000);
    this.logger.warn({
      msg: 'message cannot be applied; recorded as ignored',
      source: message.source,
      messageId: message.messageId,
      reason,
    });
    const fresh = await this.orders.transaction((db) => this.inbox.recordNew(db, [inboxEntry(storable(message), reason)]));
    if (!fresh.has(inboxKey(message.source, message.messageId))) return 'duplicate';
    try {
      await this.orders.transaction((db) => this.recordIgnoredInHistory(db, [{ message, reason }]));
    } catch (historyError) {
      if (isInfrastructureError(historyError)) throw historyError;
      this.logger.warn({
        msg: 'ignored message could not be added to an order history',
        messageId: message.messageId,
        err: (historyError as Error).message,
      });
    }
    return 'ignored';
  }
}

/** What the inbox can hold of a message whose fields Postgres refused: NUL characters go. */
function storable(message: InboundMessage): InboundMessage {
  // eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres refuses.
  const clean = (text: string) => text.replace(/\u0000/g, '\uFFFD');
  return { ...message, messageId: message.messageId, topic: clean(message.topic), body: clean(message.body) };
}

function inboxEntry(message: InboundMessage, ignoredReason: string | null): InboxEntry {
  return {
    source: message.source,
    messageId: message.messageId,
    topic: message.topic,
    body: message.body,
    receivedAt: message.receivedAt,
    outcome: ignoredReason ? 'ignored' : 'applied',
    reason: ignoredReason,
  };
}

/** Placeholders in id order, so that concurrent batches take their locks in the same order. */
function placeholdersFor(changes: { message: InboundMessage; change: SupplierStatusChange }[]): Placeholder[] {
  const byId = new Map<string, Placeholder>();
  for (const { message, change } of changes) {
    if (change.orderId !== null) {
      if (!byId.has(change.orderId))
        byId.set(change.orderId, { id: change.orderId, supplierOrderId: change.supplierOrderId, placeholderFor: 'order' });
    } else if (change.supplierOrderId !== null) {
      const id = placeholderIdOf(message.source, change.supplierOrderId);
      if (!byId.has(id)) byId.set(id, { id, supplierOrderId: change.supplierOrderId, placeholderFor: 'supplier_order' });
    }
  }
  return [...byId.values()];
}

/** The order a change lands on: ours by id, else the one holding its supplier order. */
function orderFinder(rows: LockedOrder[]): (change: SupplierStatusChange) => LockedOrder | undefined {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const bySupplierId = new Map(rows.filter((row) => row.supplierOrderId !== null).map((row) => [row.supplierOrderId as string, row]));
  return (change) =>
    (change.orderId !== null ? byId.get(change.orderId) : undefined) ??
    (change.supplierOrderId !== null ? bySupplierId.get(change.supplierOrderId) : undefined);
}

function unique(values: (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))];
}
