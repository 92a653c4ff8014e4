import { loadConfig, runMain } from '../../shared/config.js';
import { onStopSignal } from '../../shared/lifecycle.js';
import { createLogger } from '../../shared/logging.js';
import { startSimulator } from './app.js';
import { SimulatorEnv } from './config.js';

runMain(async () => {
  const config = loadConfig(SimulatorEnv);
  const logger = createLogger('cognigy-simulator', config.LOG_LEVEL);
  const simulator = await startSimulator(config.SIMULATOR_PORT, config.SIMULATOR_HOST);
  logger.info({ port: simulator.port }, 'cognigy simulator listening');
  let closing: Promise<void> | undefined;
  onStopSignal(() => void (closing ??= simulator.close()).then(() => process.exit(0)));
});
