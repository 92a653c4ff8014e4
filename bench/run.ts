/**
 * `npm run bench -- <name>`: runs one benchmark. Each reports its numbers as a ratio to a baseline
 * measured in the same run, with a description of the machine.
 */
const benches: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  ingress: () => import('./ingress.js'),
  fulfillment: () => import('./fulfillment.js'),
  pipeline: () => import('./pipeline.js'),
  'kafkajs-cpu': () => import('./kafkajs-cpu.js'),
  dedup: () => import('./dedup.js'),
  payload: () => import('./payload.js'),
  console: () => import('./console.js'),
};

const name = process.argv[2];
if (!name || !(name in benches)) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}>\n`);
  process.exit(2);
}
const bench = await benches[name]!();
await bench.run();
process.exit(0);
