/**
 * After the drain: what the pipeline wrote and what Cognigy was told. The results and DLQ topics are
 * read whole (committed records only, through the shared topic reader), keyed by the `event-id`
 * header every record carries; results are also decoded for their route and ack status. Cognigy's
 * side is the simulator's record of every acknowledged webhookId.
 */
import { randomUUID } from 'node:crypto';
import { Header } from '../../shared/headers.js';
import { createKafka } from '../../shared/kafka.js';
import { createRegistry, TopicSerde } from '../../shared/serde.js';
import { readTopicRange } from '../../shared/stage/topic-reader.js';
import type { ConsumedRecord } from '../../shared/stage/records.js';
import { topicNames } from '../../shared/topics.js';
import { checkInvariant, type Ledger, type Verdict } from './invariant.js';

export interface Census {
  /** Result records per event id. */
  results: Map<string, number>;
  /** DLQ records per event id. */
  deadLettered: Map<string, number>;
  /** Times Cognigy applied each webhookId. */
  acknowledged: Map<string, number>;
  /** Result records by route and by ack status (decoded values; "undecodable" when that failed). */
  routes: Record<string, number>;
  resultAckStatuses: Record<string, number>;
  /** DLQ records by dlq-reason. */
  dlqReasons: Record<string, number>;
  /** Acknowledged webhookIds by the status Cognigy got last. */
  acknowledgedStatuses: Record<string, number>;
  /** Batch-acknowledge calls by the HTTP status Cognigy answered (0: no answer). */
  batchCallStatuses: Record<string, number>;
}

export async function takeCensus(opts: { kafkaBrokers: string; schemaRegistryUrl: string; topicPrefix: string; simulatorUrl: string }): Promise<Census> {
  const kafka = createKafka({ brokers: opts.kafkaBrokers.split(','), clientId: 'soak-census' });
  const topics = topicNames(opts.topicPrefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const read = async (topic: string): Promise<ConsumedRecord[]> => {
      if (!(await admin.listTopics()).includes(topic)) return [];
      const ends = await admin.fetchTopicOffsets(topic);
      const snapshot = await readTopicRange(kafka, {
        topic,
        groupId: `soak-census-${randomUUID()}`,
        from: new Map(ends.map((e) => [e.partition, Number(e.low)])),
        to: new Map(ends.map((e) => [e.partition, Number(e.high)])),
        timeoutMs: 120_000,
      });
      await snapshot.close();
      return snapshot.records;
    };
    const [resultRecords, dlqRecords, acks, batchCallStatuses] = await Promise.all([
      read(topics.results),
      read(topics.dlq),
      acknowledgedRecord(opts.simulatorUrl),
      batchCallsByStatus(opts.simulatorUrl),
    ]);
    const serde = new TopicSerde(createRegistry(opts.schemaRegistryUrl), topics.results, 'FulfillmentResult');
    const routes: Record<string, number> = {};
    const resultAckStatuses: Record<string, number> = {};
    for (const record of resultRecords) {
      const decoded = record.value === null ? undefined : await serde.decode(record.value).catch(() => undefined);
      bump(routes, decoded?.route ?? 'undecodable');
      bump(resultAckStatuses, decoded?.ackStatus ?? 'undecodable');
    }
    const dlqReasons: Record<string, number> = {};
    for (const record of dlqRecords) bump(dlqReasons, record.headers[Header.dlqReason] ?? '(none)');
    const acknowledgedStatuses: Record<string, number> = {};
    for (const { status } of Object.values(acks.statuses)) bump(acknowledgedStatuses, status);
    return {
      results: countByEventId(resultRecords),
      deadLettered: countByEventId(dlqRecords),
      acknowledged: new Map(Object.entries(acks.counts)),
      routes,
      resultAckStatuses,
      dlqReasons,
      acknowledgedStatuses,
      batchCallStatuses,
    };
  } finally {
    await admin.disconnect();
  }
}

async function acknowledgedRecord(simulatorUrl: string): Promise<{ counts: Record<string, number>; statuses: Record<string, { status: string }> }> {
  const res = await fetch(`${simulatorUrl}/admin/cognigy/acknowledged`, { signal: AbortSignal.timeout(60_000) });
  if (res.status !== 200) throw new Error(`the simulator answered ${res.status} to GET /admin/cognigy/acknowledged`);
  return (await res.json()) as { counts: Record<string, number>; statuses: Record<string, { status: string }> };
}

async function batchCallsByStatus(simulatorUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${simulatorUrl}/admin/cognigy/batches`, { signal: AbortSignal.timeout(60_000) });
  if (res.status !== 200) throw new Error(`the simulator answered ${res.status} to GET /admin/cognigy/batches`);
  const { calls } = (await res.json()) as { calls: { status: number }[] };
  const out: Record<string, number> = {};
  for (const call of calls) bump(out, String(call.status));
  return out;
}

function countByEventId(records: readonly ConsumedRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const record of records) {
    const id = record.headers[Header.eventId] ?? `(no event-id: ${record.partition}:${record.offset})`;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Deletes every topic whose name starts with the run's prefix (unique to the run); returns their names. */
export async function deleteRunTopics(kafkaBrokers: string, topicPrefix: string): Promise<string[]> {
  const admin = createKafka({ brokers: kafkaBrokers.split(','), clientId: 'soak-cleanup' }).admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(topicPrefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
    return mine;
  } finally {
    await admin.disconnect();
  }
}

/** The census of a run's topics and the simulator's record, judged against what the load generator saw accepted. */
export async function judgeRun(
  where: { kafkaBrokers: string; schemaRegistryUrl: string; topicPrefix: string; simulatorUrl: string },
  load: Pick<Ledger, 'accepted' | 'unanswered'>,
): Promise<{ census: Census; verdict: Verdict }> {
  const census = await takeCensus(where);
  const verdict = checkInvariant({
    accepted: load.accepted,
    unanswered: load.unanswered,
    results: census.results,
    deadLettered: census.deadLettered,
    acknowledged: census.acknowledged,
  });
  return { census, verdict };
}
