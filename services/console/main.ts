import { runService } from '../../shared/lifecycle.js';
import { ConsoleEnv } from './config.js';
import { startConsole } from './service.js';

/**
 * console (CONSOLE_PORT, off without CONSOLE_TOKEN) shows the pipeline on one page: the flow from
 * the services' /metrics.json and the consumer lag (flow-sampler.ts, flow.ts), the dead-letter
 * topic as a table with redrive (dead-letters.ts), the batches and each event's path through the
 * topics (event-index.ts), replay plans (operations.ts, the CLI's own operations). Routes and
 * access in app.ts and auth.ts, their JSON in views.ts, the page in public/.
 */
runService('console', ConsoleEnv, startConsole);
