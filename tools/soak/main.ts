/**
 * `npm run soak -- --rate R --minutes M [--replicas N] ...`: drives signed callbacks at a fixed
 * rate through every service (each replica its own process), kills replicas at the midpoint when
 * asked, waits for the drain and checks that every accepted callback was acknowledged or
 * dead-lettered exactly once. Arguments in args.ts, the run in run.ts, the invariant in
 * invariant.ts; RELIABILITY.md explains it all.
 */
import { parseSoakArgs, USAGE } from './args.js';
import { runSoak } from './run.js';

const argv = process.argv.slice(2);
const parsed = parseSoakArgs(argv);
const log = (line: string) => process.stdout.write(`${line}\n`);

if (parsed.kind === 'help') {
  log(USAGE);
} else if (parsed.kind === 'error') {
  process.stderr.write(`soak: ${parsed.message}\n`);
  process.exitCode = 2;
} else {
  runSoak(parsed.options, `npm run soak -- ${argv.join(' ')}`, log).then(
    // Exits explicitly: a client left behind by a failed step must not keep the process alive.
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
