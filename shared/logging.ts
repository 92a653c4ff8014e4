import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON logs, one logger per service. Secrets and expected signatures are redacted at the source;
 * payload text is only ever logged when LOG_PAYLOADS=true, which callers check.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.secret', '*.password', '*.authorization', '*.clientSecret', '*.token', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}

/** The fields every log line about one message carries. */
export interface MessageContext {
  eventId?: string;
  correlationId?: string;
  sessionId?: string;
}

export function messageLogger(logger: Logger, context: MessageContext): Logger {
  return logger.child(context);
}
