import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

export type { Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * One logger per service. JSON lines for log collectors; when stdout is a terminal (LOG_FORMAT=auto)
 * one readable line per entry instead, prefixed with the service's name, as `npm start` shows them.
 * Secrets and expected signatures are redacted at the source; payload text is only ever logged when
 * LOG_PAYLOADS=true, which callers check.
 */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  format = (process.env.LOG_FORMAT ?? 'auto') as LogFormat,
): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.secret', '*.password', '*.authorization', '*.clientSecret', '*.token', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  return pretty ? pino(options, prettyStream()) : pino(options);
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

/** Wide enough for the longest service name, so messages line up under each other. */
const NAME_WIDTH = 'cognigy-simulator'.length;

/**
 * pino's own pretty printer, in this thread and synchronous (so nothing is lost on exit):
 * `ingress           | 01:20:09.758 WARN  kafka: message {"extra":"fields"}`.
 */
function prettyStream(): DestinationStream {
  // Loaded only for a terminal: JSON-logging deployments never pay for it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: PrettyOptions) => DestinationStream;
  return pretty({
    sync: true,
    singleLine: true,
    colorize: process.stdout.hasColors?.() ?? false,
    ignore: 'time,level,service,component,pid,hostname,logger,timestamp',
    // The error of a kafkajs line is a message string, not an Error: keep it on the line.
    errorLikeObjectKeys: ['err'],
    messageFormat: (log, messageKey, _levelLabelKey, { colors }) => {
      const service = typeof log.service === 'string' ? log.service : '';
      const time = typeof log.time === 'string' ? log.time.slice(11, 23) : '';
      const level = Number(log.level);
      const label = (pino.levels.labels[level] ?? String(level)).toUpperCase().padEnd(5);
      const coloured = level >= 50 ? colors.red(label) : level >= 40 ? colors.yellow(label) : colors.dim(label);
      const component = typeof log.component === 'string' ? `${log.component}: ` : '';
      return `${colors.cyan(service.padEnd(NAME_WIDTH))} | ${time} ${coloured} ${component}${String(log[messageKey] ?? '')}`;
    },
  });
}
