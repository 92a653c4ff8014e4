import { runService } from '../../shared/lifecycle.js';
import { SessionWriterEnv } from './config.js';
import { startSessionWriter } from './service.js';

/**
 * session-writer (consumer group SESSION_WRITER_GROUP_ID, off unless SESSION_WRITER_ENABLED=true)
 * reads cognigy.fulfillment.results.v1 and writes each session's newest result into the Cognigy
 * conversation: POST {COGNIGY_BASE_URL}/api/v2/sessions/{sessionId}/variables. The mapping of
 * result fields to variables in variables.ts, the session order in order.ts and lanes.ts, the
 * call budget in rate-limit.ts, Cognigy's answers in sessions-client.ts, results to writes and
 * commits in writer.ts, assembled on the stage kit (shared/stage) in service.ts.
 */
runService('session-writer', SessionWriterEnv, startSessionWriter);
