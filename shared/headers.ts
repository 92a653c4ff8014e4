/** Header names written on every record the pipeline produces (DESIGN "Topics and contracts"). */
export const Header = {
  eventId: 'event-id',
  correlationId: 'correlation-id',
  receivedAt: 'received-at',
  traceparent: 'traceparent',
  retryAttempt: 'retry-attempt',
  retryDueAt: 'retry-due-at',
  originalTopic: 'original-topic',
  originalPartition: 'original-partition',
  originalOffset: 'original-offset',
  firstFailedAt: 'first-failed-at',
  errorClass: 'error-class',
  errorMessage: 'error-message',
  dlqReason: 'dlq-reason',
  redrivenFrom: 'redriven-from',
  /** On results: where the callback sits on cognigy.callbacks.v1, its place in its session's order. */
  callbackPartition: 'callback-partition',
  callbackOffset: 'callback-offset',
} as const;

export type HeaderName = (typeof Header)[keyof typeof Header];

type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;

/** Reads one header as a string, whatever shape the client delivered it in. */
export function headerValue(headers: RawHeaders, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** All headers as plain strings (for logging, the DLQ CLI and copying onto a retry record). */
export function headersToStrings(headers: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(headers ?? {})) {
    const value = headerValue(headers, key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

const MAX_ERROR_MESSAGE = 512;

/** Error messages travel in headers, so they are bounded. */
export function truncateErrorMessage(message: string): string {
  return message.length <= MAX_ERROR_MESSAGE ? message : `${message.slice(0, MAX_ERROR_MESSAGE - 1)}…`;
}
