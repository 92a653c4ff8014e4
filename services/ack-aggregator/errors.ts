import { NonRetriableError, RetriableError } from '../../shared/errors.js';

/** 200 whose counts do not add up to the batch: not treated as accepted, so the batch is retried. */
export class CountMismatch extends RetriableError {
  constructor(
    readonly batchSize: number,
    readonly answer: { processedCount?: unknown; failedCount?: unknown; status?: unknown },
  ) {
    super(
      `Cognigy answered processedCount=${String(answer.processedCount)} failedCount=${String(answer.failedCount)} ` +
        `status=${String(answer.status)} for a batch of ${batchSize}`,
    );
  }
}

/** 400 (or another 4xx): Cognigy refuses the batch as it is; it is dead-lettered with the answer. */
export class BatchRejected extends NonRetriableError {
  constructor(
    readonly status: number,
    readonly answer: string,
  ) {
    super(`Cognigy refused the batch with ${status}: ${answer}`);
  }
}

/** The aggregator is stopping; the batch stays planned and is resent with the same key on restart. */
export class SubmissionAborted extends NonRetriableError {}
