import type { FetchLike } from '../../shared/cognigy/auth.js';
import { TopicSerde } from '../../shared/serde.js';
import { RecordDecoder } from '../../shared/stage/decoder.js';
import { startStage, type StageDeps, type StageHandle } from '../../shared/stage/stage.js';
import { sessionAuthOf, stageSettingsOf, variableMapOf, type SessionWriterConfig } from './config.js';
import { sessionWriterMetrics } from './metrics.js';
import { CallBudget } from './rate-limit.js';
import { SessionsClient } from './sessions-client.js';
import { SessionWriter } from './writer.js';

export type SessionWriterHandle = StageHandle;

export interface SessionWriterDeps extends StageDeps {
  /** The HTTP client for Cognigy (tests may wrap it). */
  fetch?: FetchLike;
}

/**
 * The session writer: the stage kit around SessionWriter. Reads the results topic in its own
 * group and writes each session's newest result into the conversation as session variables;
 * results Cognigy refuses (session gone, other 4xx) go to the DLQ.
 */
export async function startSessionWriter(c: SessionWriterConfig, deps: SessionWriterDeps = {}): Promise<SessionWriterHandle> {
  return startStage(stageSettingsOf(c), deps, async (kit) => {
    const metrics = sessionWriterMetrics(kit.metrics, () => writer.held);
    const auth = sessionAuthOf(c, { fetch: deps.fetch, onTokenRequest: (outcome) => metrics.tokenRequests.inc({ outcome }) });
    const budget = new CallBudget(c.SESSION_WRITER_MAX_PER_5MIN);
    const writer = new SessionWriter(
      {
        dlqTopic: kit.topics.dlq,
        variables: variableMapOf(c),
        concurrency: c.SESSION_WRITER_CONCURRENCY,
        maxHeld: c.SESSION_WRITER_MAX_PENDING,
        orderMemory: c.SESSION_WRITER_ORDER_MEMORY,
        backoff: { baseDelayMs: c.COGNIGY_RETRY_BASE_DELAY_MS, maxDelayMs: c.COGNIGY_RETRY_MAX_DELAY_MS },
      },
      {
        decoder: new RecordDecoder(new TopicSerde(kit.schemaRegistry, kit.topics.results, 'FulfillmentResult')),
        client: new SessionsClient({ baseUrl: c.COGNIGY_BASE_URL, variablesPath: c.SESSION_VARIABLES_PATH, timeoutMs: c.COGNIGY_TIMEOUT_MS }, auth, { fetch: deps.fetch }),
        budget,
        producer: await kit.idempotentProducer(),
        commit: (offsets) => kit.consumer.commitOffsets(offsets),
        deadLetters: kit.deadLetters,
        fatal: kit.fatal,
        metrics,
        logger: kit.logger,
      },
    );
    return {
      eachBatch: writer.handleBatch,
      onRebalancing: writer.onRebalance,
      onAssignment: writer.onRebalance,
      drain: (budgetMs) => writer.stop(budgetMs),
      describe: {
        cognigy: c.COGNIGY_BASE_URL + c.SESSION_VARIABLES_PATH,
        auth: c.SESSION_WRITER_AUTH,
        callsPer5Min: budget.perFiveMinutes,
        variables: c.SESSION_VARIABLES_MAP,
      },
    };
  });
}
