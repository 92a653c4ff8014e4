import type { z } from 'zod';
import { loadConfig, runMain } from './config.js';
import { createLogger, type Logger } from './logging.js';

export type ShutdownStep = { name: string; run: () => Promise<void> };

/**
 * SIGTERM/SIGINT run the steps in order (stop intake, finish in-flight work, flush, commit,
 * leave the group) and exit; past `timeoutMs` the process exits anyway, non-zero.
 */
export function onShutdown(logger: Logger, timeoutMs: number, steps: ShutdownStep[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      logger.info({ timeoutMs }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs }, 'shutdown timed out');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      logger.info('stopped');
    })();
    return running;
  };
  onStopSignal((signal) => {
    logger.info({ signal }, running === undefined ? 'stop signal received' : 'stop signal received again; still shutting down');
    void shutdown().then(() => process.exit(0));
  });
  return shutdown;
}

/**
 * Calls `handler` at every SIGTERM and SIGINT, the repeats included. The listener stays in place
 * for the life of the process: a signal that finds no listener takes Node's default action and
 * kills the process mid-shutdown, and a second SIGTERM is common (a supervisor and a wrapper such
 * as tsx or npm both passing it on, or an impatient operator).
 */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, handler);
}

/**
 * A service's main: configuration (a bad value stops the start with one line, exit 2), the logger,
 * the start, stop signals. A crash the service cannot recover from runs the same stop steps and
 * exits 1, so a supervisor restarts the process.
 */
export function runService<S extends z.ZodType<{ LOG_LEVEL: string; SHUTDOWN_TIMEOUT_MS: number }>>(
  name: string,
  schema: S,
  start: (config: z.infer<S>, deps: { logger: Logger; onFatal: (error: unknown) => void }) => Promise<{ stop(): Promise<void> }>,
): void {
  runMain(async () => {
    const config = loadConfig(schema);
    const logger = createLogger(name, config.LOG_LEVEL);
    let shutdown: (() => Promise<void>) | undefined = undefined;
    // A crash during the start itself has nothing to stop yet.
    const onFatal = () => void (shutdown?.() ?? Promise.resolve()).finally(() => process.exit(1));
    const service = await start(config, { logger, onFatal });
    shutdown = onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [{ name, run: service.stop }]);
  });
}
