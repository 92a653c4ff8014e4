import type { Admin } from '../../shared/kafka.js';

/**
 * True when `groupId` has committed every partition of `topics` up to its end, read now: the group
 * has finished everything written to them so far. A partition nothing was written to needs no commit.
 */
export async function committedToEnd(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  const [committed, ends] = await Promise.all([
    admin.fetchOffsets({ groupId, topics }),
    Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) }))),
  ]);
  const offsetOf = new Map(committed.flatMap(({ topic, partitions }) => partitions.map((p) => [`${topic}/${p.partition}`, Number(p.offset)])));
  return ends.every(({ topic, partitions }) =>
    partitions.every((end) => Number(end.high) === 0 || offsetOf.get(`${topic}/${end.partition}`) === Number(end.high)),
  );
}

/** Each partition of `topics` the group has not committed to its end, as `topic[partition] committed/high`. */
export async function lagReport(admin: Admin, groupId: string, topics: string[]): Promise<string[]> {
  const [committed, ends] = await Promise.all([
    admin.fetchOffsets({ groupId, topics }),
    Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) }))),
  ]);
  const offsetOf = new Map(committed.flatMap(({ topic, partitions }) => partitions.map((p) => [`${topic}/${p.partition}`, Number(p.offset)])));
  return ends.flatMap(({ topic, partitions }) =>
    partitions
      .filter((end) => Number(end.high) > 0 && offsetOf.get(`${topic}/${end.partition}`) !== Number(end.high))
      .map((end) => `${topic}[${end.partition}] ${offsetOf.get(`${topic}/${end.partition}`)}/${end.high}`),
  );
}
