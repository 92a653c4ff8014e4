import { FieldReader } from '../services/ingress/callback-fields.js';
import { parsePayload, toCallback } from '../services/ingress/payload.js';
import { flowExecution } from './callbacks.js';
import { describeMachine } from './machine.js';

const ITERATIONS = 200_000;
const ROUNDS = 5;

/** One body per shape the ingress reads, each with the field positions its default paths walk to. */
const SHAPES: Record<string, unknown> = {
  'flow execution (NLU in context)': flowExecution('sess-8f7d6e5c-4b3a-2109-8765-4321abcdef01'),
  'intent fulfillment (top level)': {
    sessionId: 'sess-flight-0001',
    intent: 'book_flight',
    confidence: 0.94,
    utterance: 'Book me a flight to Lisbon on Friday',
    entities: { destination: 'Lisbon', date: 'Friday' },
    context: { channel: 'voice' },
  },
  'webhook endpoint (no NLU)': { userId: 'user-7781', sessionId: 'sess-endpoint-0001', text: 'I need help with my invoice', data: { invoiceId: 'INV-88' } },
  'flow Input object nested': { sessionId: 'sess-input-0002', input: { text: 'cancel it', intent: 'cancel_order', intentScore: 0.72, slots: { order: 'last' } } },
};

function time(body: Buffer, work: (raw: Buffer) => unknown): number {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i += 1) work(body);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / ITERATIONS);
  }
  return best;
}

/**
 * `npm run bench -- payload`: what reading a callback's fields costs per request, against the
 * JSON.parse every JSON endpoint pays anyway (the baseline, measured in the same run). Best of
 * five rounds of 200,000 bodies each, per shape.
 */
export async function run(): Promise<void> {
  const reader = new FieldReader();
  const identity = { eventId: 'e', correlationId: 'c' };
  console.log(`\ncallback payload benchmark on ${describeMachine()}`);
  console.log('| shape | body bytes | JSON.parse only (baseline), ns | parse + read fields, ns | + build record, ns | fields cost, ns | x baseline |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, value] of Object.entries(SHAPES)) {
    const body = Buffer.from(JSON.stringify(value));
    const baseline = time(body, (raw) => JSON.parse(raw.toString('utf8')));
    const read = time(body, (raw) => parsePayload(raw, reader));
    const record = time(body, (raw) => {
      const parsed = parsePayload(raw, reader);
      return parsed.ok ? toCallback(parsed.fields, identity, raw, '2026-01-01T00:00:00.000Z') : parsed;
    });
    console.log(
      `| ${name} | ${body.length} | ${baseline.toFixed(0)} | ${read.toFixed(0)} | ${record.toFixed(0)} | ${(record - baseline).toFixed(0)} | ${(record / baseline).toFixed(2)} |`,
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
}
