/**
 * The operations CLI: `npm run cli -- <command>`. Commands (replay, dlq list|show|redrive,
 * topics ensure|describe, retry-policy list|apply) are parsed and dispatched in commands.ts; each
 * lives in its own module and can be called as a function with its client and an output stream.
 */
import { runCli } from './commands.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
