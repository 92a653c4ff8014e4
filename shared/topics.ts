/** Topic names of DESIGN "Topics and contracts", with the optional TOPIC_PREFIX. */
export interface TopicNames {
  callbacks: string;
  results: string;
  dlq: string;
  ackBatches: string;
  /** Compacted changelogs of the durable dedup state (fulfillment: event ids handled; aggregator: acknowledged). */
  fulfillmentDedup: string;
  acksDedup: string;
  /** Retry tier n (1-based): cognigy.callbacks.retry.<n>. */
  retry(n: number): string;
}

export function topicNames(prefix = ''): TopicNames {
  return {
    callbacks: `${prefix}cognigy.callbacks.v1`,
    results: `${prefix}cognigy.fulfillment.results.v1`,
    dlq: `${prefix}cognigy.callbacks.dlq`,
    ackBatches: `${prefix}cognigy.acks.batches.v1`,
    fulfillmentDedup: `${prefix}cognigy.fulfillment.dedup.v1`,
    acksDedup: `${prefix}cognigy.acks.dedup.v1`,
    retry: (n: number) => `${prefix}cognigy.callbacks.retry.${n}`,
  };
}

/** What fulfillment reads: the callbacks topic, then retry tier n (1 to maxAttempts - 1) as input n. */
export function fulfillmentInputs(topics: TopicNames, maxAttempts: number): string[] {
  return [topics.callbacks, ...Array.from({ length: maxAttempts - 1 }, (_, i) => topics.retry(i + 1))];
}
