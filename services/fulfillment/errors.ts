import { NonRetriableError, RetriableError } from '../../shared/errors.js';

/**
 * The downstream failures fulfillment tells apart (undecodable records and registry outages are the
 * stage kit's, shared/stage/decoder.ts). Each carries `retriable`; decisions.ts maps them to a
 * retry tier or the DLQ and to the ack of DESIGN, in one place.
 */

/** The downstream call took longer than DOWNSTREAM_TIMEOUT_MS. */
export class DownstreamTimeout extends RetriableError {}

/** 5xx, 408, 429 or a network error: the downstream may answer later. */
export class DownstreamUnavailable extends RetriableError {
  constructor(
    message: string,
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Any other 4xx: the downstream refused this request, and sending it again will not help. */
export class DownstreamRejected extends NonRetriableError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Work stopped because the service is shutting down; the record stays uncommitted. */
export class ShuttingDown extends Error {
  override name = 'ShuttingDown';
}

export function downstreamStatus(error: unknown): number | null {
  if (error instanceof DownstreamRejected) return error.status;
  if (error instanceof DownstreamUnavailable) return error.status;
  return null;
}
