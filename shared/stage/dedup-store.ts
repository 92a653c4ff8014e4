import { DedupWindow } from '../dedup-window.js';
import type { Admin, KafkaClient } from '../kafka.js';
import type { Logger } from '../logging.js';
import { Gauge, type Registry } from '../metrics.js';
import type { OutRecord } from './records.js';
import type { StageKit } from './stage.js';
import { TopicFollower } from './topic-follower.js';

/** Header marking a changelog record that resets a partition's state (written by `replay --execute`). */
export const RESET_HEADER = 'dedup-reset';
/** Header on every record a replayed input led to: the replay's id (see `replayOf`). */
export const REPLAY_HEADER = 'replay-id';

/** What a reset marker says: which replay, and up to which offsets (per input topic) records are replayed. */
export interface ResetMarker {
  replayId: string;
  /** Per input topic, the end offset of this partition when the replay was executed. */
  replayedBelow: Record<string, number>;
}

export interface DedupStoreSettings extends DedupStateSettings {
  kafka: KafkaClient;
  admin: Admin;
  /** The owning consumer group: the reader's own group id is derived from it. */
  groupId: string;
  /** Where `dedup_store_entries` is exported. */
  registry?: Registry;
  /** The reader crashed for good: without it the store cannot restore, so the service must stop. */
  onFatal: (error: unknown) => void;
  /** How long `restored` waits for the reader to reach the changelog's end. */
  restoreTimeoutMs?: number;
  /**
   * The reader's session: after a broker restart its group still lists the member from before, and
   * the reader's next join waits until that session expires; with kafkajs' default (30 s) every
   * restore, and so the stage, waited that long. startDedupStore passes the stage consumer's timing.
   */
  membership?: { sessionTimeoutMs: number; heartbeatIntervalMs: number };
}

/** A key handled by this instance but not durable yet, and who is writing it. */
interface Held {
  value: number;
  owner: object;
}

export interface DedupStateSettings {
  /** The changelog topic the records from `hold` go to. */
  topic: string;
  windowMs: number;
  /** Bound on remembered keys per changelog partition. */
  maxEntries: number;
  logger: Logger;
}

/**
 * The store's memory, without Kafka: what is durable (per partition, for the window), what this
 * instance holds and has not written yet, and the replays' reset markers. `DedupStore` feeds it from
 * the changelog.
 */
export class DedupState {
  private readonly windows = new Map<number, DedupWindow<number>>();
  private readonly held = new Map<string, Held>();
  private readonly markers = new Map<number, ResetMarker>();

  constructor(private readonly state: DedupStateSettings) {}

  /** The number last remembered for the key on this partition: held (newest) or durable. */
  seen(partition: number, key: string): number | undefined {
    return this.held.get(heldKey(partition, key))?.value ?? this.windows.get(partition)?.get(key);
  }

  /** The replay a record belongs to: its own header, or a reset marker whose range covers it. */
  replayOf(record: { topic: string; partition: number; offset: number; headers: Record<string, string> }): string | undefined {
    const own = record.headers[REPLAY_HEADER];
    if (own !== undefined) return own;
    const marker = this.markers.get(record.partition);
    const below = marker?.replayedBelow[record.topic];
    return below !== undefined && record.offset < below ? marker?.replayId : undefined;
  }

  /**
   * Remembers the key from now on, before it is durable, for `owner` (a partition's lane, a batch);
   * returns the changelog record to write along with the outputs it belongs to.
   */
  hold(partition: number, key: string, value: number, owner: object): OutRecord {
    this.held.set(heldKey(partition, key), { value, owner });
    return changelogRecord(this.state.topic, partition, key, value);
  }

  /** The held keys' records are durable: kept for the window. */
  confirm(entries: Iterable<{ partition: number; key: string }>): void {
    for (const { partition, key } of entries) {
      const id = heldKey(partition, key);
      const held = this.held.get(id);
      if (held === undefined) continue;
      this.held.delete(id);
      this.remember(partition, key, held.value);
    }
  }

  /** Forgets every key `owner` holds: its write failed, or its partition was given up. */
  release(owner: object): void {
    for (const [id, held] of this.held) if (held.owner === owner) this.held.delete(id);
  }

  get size(): number {
    let size = this.held.size;
    for (const window of this.windows.values()) size += window.size;
    return size;
  }

  /** One changelog record, in log order: an entry, a tombstone (null value) or a reset marker. */
  apply(partition: number, key: string, value: Buffer | null, reset: boolean, timestamp: number): void {
    if (reset) {
      // A reset forgets the partition's past: what a replay re-reads is handled again.
      this.windows.delete(partition);
      const marker = parseMarker(value);
      if (marker !== undefined) this.markers.set(partition, marker);
      this.state.logger.info({ topic: this.state.topic, partition, replayId: marker?.replayId }, 'dedup state reset by a replay');
      return;
    }
    if (value === null) {
      this.windows.get(partition)?.delete(key);
      return;
    }
    if (Date.now() - timestamp >= this.state.windowMs) return;
    const number = Number(value.toString());
    if (Number.isFinite(number)) this.remember(partition, key, number);
  }

  private remember(partition: number, key: string, value: number): void {
    let window = this.windows.get(partition);
    if (window === undefined) {
      window = new DedupWindow<number>(this.state.windowMs, this.state.maxEntries);
      this.windows.set(partition, window);
    }
    // The latest write wins, as in the compacted topic (a redrive starts an event's count over).
    if (window.get(key) !== value) window.set(key, value);
  }
}

/**
 * Keys (event ids) a stage has handled, per partition, each with a number (fulfillment: the attempt
 * last handled; the aggregator: 1, acknowledged), durable in a compacted changelog topic.
 *
 * Inputs are keyed by session, so every copy of an event lands on the same partition number, of the
 * callbacks topic, of every retry tier and of the results topic alike; the changelog uses that
 * number too. Every instance reads the whole changelog (read_committed, from the beginning, in a
 * group of its own that never commits) into memory, and `restored()` waits until it has read to the
 * end offsets of the moment: called when a partition is taken, it makes what its previous owner
 * wrote visible before the partition's first record is looked at, the way Kafka Streams restores a
 * state store. A key this instance handles is held in memory at once (`hold`) and is written with
 * the outputs it belongs to (in the same transaction under exactly-once); `confirm` keeps it once
 * that write is durable, `release` forgets what an owner held when its write failed or its
 * partition was given up.
 *
 * Entries expire after the window: in memory (DedupWindow), on restore (older records are skipped)
 * and in the topic (compact,delete with a retention of at least the window: whole old segments
 * are deleted, compaction keeps one record per key in the rest).
 */
export class DedupStore extends DedupState {
  private readonly reader: TopicFollower;
  private readonly restoreTimeoutMs: number;

  constructor(settings: DedupStoreSettings) {
    super(settings);
    this.restoreTimeoutMs = settings.restoreTimeoutMs ?? 120_000;
    this.reader = new TopicFollower({
      kafka: settings.kafka,
      admin: settings.admin,
      logger: settings.logger,
      topic: settings.topic,
      groupPrefix: `${settings.groupId}.dedup-reader`,
      membership: settings.membership,
      onFatal: settings.onFatal,
      onRecords: (records) => {
        for (const r of records) this.apply(r.partition, r.key?.toString() ?? '', r.value, r.headers[RESET_HEADER] !== undefined, r.timestamp);
      },
    });
    if (settings.registry !== undefined) {
      const size = () => this.size;
      new Gauge({
        name: 'dedup_store_entries',
        help: 'Event ids the durable dedup store remembers (all changelog partitions, held ones included)',
        registers: [settings.registry],
        collect() {
          this.set(size());
        },
      });
    }
  }

  start(): Promise<void> {
    return this.reader.start();
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }

  /**
   * Resolves once the reader has read every partition of the changelog up to its end offset as
   * of this call: everything written before (and committed, under transactions) is then known.
   */
  restored(): Promise<void> {
    return this.reader.caughtUp(this.restoreTimeoutMs);
  }
}

function heldKey(partition: number, key: string): string {
  return `${partition}\u0000${key}`;
}

/** One changelog record: the key and its number as text, on the input's partition number. */
export function changelogRecord(topic: string, partition: number, key: string, value: number): OutRecord {
  return { topic, partition, key, value: Buffer.from(String(value)), headers: {} };
}

/** The record `replay --execute` writes to each partition of a changelog before offsets move. */
export function resetMarkerRecord(topic: string, partition: number, marker: ResetMarker): OutRecord {
  return { topic, partition, key: `${RESET_HEADER}:${marker.replayId}`, value: Buffer.from(JSON.stringify(marker)), headers: { [RESET_HEADER]: marker.replayId } };
}

function parseMarker(value: Buffer | null): ResetMarker | undefined {
  if (value === null) return undefined;
  try {
    const parsed = JSON.parse(value.toString()) as Partial<ResetMarker>;
    if (typeof parsed.replayId !== 'string' || typeof parsed.replayedBelow !== 'object' || parsed.replayedBelow === null) return undefined;
    return { replayId: parsed.replayId, replayedBelow: parsed.replayedBelow };
  } catch {
    return undefined;
  }
}

/** A stage's dedup store on its changelog topic, started (reading) before the stage consumes. */
export async function startDedupStore(
  kit: Pick<StageKit, 'kafka' | 'admin' | 'logger' | 'metrics' | 'fatal' | 'membership'>,
  store: { topic: string; groupId: string; windowMs: number; maxEntries: number },
): Promise<DedupStore> {
  const dedup = new DedupStore({
    ...store,
    kafka: kit.kafka,
    admin: kit.admin,
    logger: kit.logger,
    registry: kit.metrics,
    membership: kit.membership,
    onFatal: (error) => kit.fatal(error, 'dedup changelog reader crashed without restart; stopping'),
  });
  await dedup.start();
  return dedup;
}
