import type { z } from 'zod';
import { loadConfig, runMain } from '../config.js';
import { onShutdown } from '../lifecycle.js';
import { createLogger, type Logger } from '../logging.js';

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
