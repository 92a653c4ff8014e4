/**
 * Hostile bodies against the real ingress over real HTTP, generated with fast-check: every answer is
 * a deliberate 4xx (never a 5xx), nothing is written for an invalid body, odd-but-valid bodies get
 * the answer JSON.parse semantics call for, and the process is as it was afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_NESTING } from '../../services/ingress/payload.js';
import { chunked, exchange, forcedGc, post, serveRecording, settledHeap, webhookRequest, type Exchange, type ServedIngress } from './http-harness.js';

const MAX_BODY = 262_144;
const gc = forcedGc();
let ingress: ServedIngress;
let nonce = 0;

/** Every generated body carries its own nonce: the ingress answers a repeated body as a duplicate. */
const withNonce = (fields: string) => `{"nonce":${(nonce += 1)},${fields}}`;

async function refused(answer: Exchange, status: number): Promise<Record<string, unknown>> {
  expect(answer.status, answer.body).toBe(status);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

/** Runs a property and checks that none of its bodies was written. */
async function nothingWritten<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts>, numRuns: number) {
  const before = ingress.produced.length;
  await fc.assert(property, { numRuns });
  expect(ingress.produced.length - before).toBe(0);
}

beforeAll(async () => {
  ingress = await serveRecording({ INGRESS_MAX_BODY_BYTES: String(MAX_BODY) });
  expect((await post(ingress.port, withNonce('"sessionId":"warm-up"'))).status).toBe(202);
});

afterAll(async () => {
  await ingress?.close();
});

describe('malformed JSON', () => {
  const callbackText = fc.record({ sessionId: fc.string({ minLength: 1, maxLength: 40 }), extra: fc.jsonValue({ maxDepth: 3 }) }).map((o) => JSON.stringify(o));
  const malformed = fc.oneof(
    // Cut short anywhere.
    fc.tuple(callbackText, fc.nat()).map(([text, at]) => text.slice(0, at % text.length)),
    // Something after the object.
    fc.tuple(callbackText, fc.constantFrom('}', ',', 'x', '{}', ' ]', '\u0000')).map(([text, tail]) => text + tail),
    // Anything at all.
    fc.string({ unit: 'binary', maxLength: 200 }),
  ).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  });

  it('answers 400 invalid_json to a signed body that is not JSON', async () => {
    await nothingWritten(
      fc.asyncProperty(malformed, async (text) => {
        expect(await refused(await post(ingress.port, text), 400)).toMatchObject({ error: 'invalid_json' });
      }),
      150,
    );
  });

  it('answers 400 naming the body to JSON that is not an object, and naming sessionId to an object without one', async () => {
    const notAnObject = fc.oneof(fc.array(fc.jsonValue({ maxDepth: 2 })), fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    await nothingWritten(
      fc.asyncProperty(notAnObject, async (value) => {
        expect(await refused(await post(ingress.port, JSON.stringify(value)), 400)).toMatchObject({ error: 'invalid_payload', issues: [{ path: '' }] });
      }),
      60,
    );
    const withoutSession = fc.dictionary(fc.string().filter((k) => k !== 'sessionId'), fc.jsonValue({ maxDepth: 2 }));
    await nothingWritten(
      fc.asyncProperty(withoutSession, async (value) => {
        const answer = await refused(await post(ingress.port, JSON.stringify(value)), 400);
        expect(answer).toMatchObject({ error: 'invalid_payload', issues: [{ path: 'sessionId', message: 'required' }] });
      }),
      60,
    );
  });

  it('answers 401 to any body without a valid signature, before reading it as JSON', async () => {
    await nothingWritten(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.stringMatching(/^[0-9a-f]{64}$/), async (bytes, signature) => {
        const answer = await post(ingress.port, Buffer.from(bytes), { 'x-cognigy-signature': signature });
        expect(await refused(answer, 401)).toEqual({ error: 'unauthorized' });
      }),
      60,
    );
  });
});

describe('wrong encodings', () => {
  /** A sessionId with at least one character outside ASCII, so its encoding matters. */
  const nonAscii = fc.tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0xa0, max: 0xff }), fc.string({ maxLength: 10 })).map(([a, c, b]) => a + String.fromCharCode(c) + b);
  const utf16 = (text: string, bigEndian: boolean, bom: boolean) => {
    const body = Buffer.from((bom ? '\ufeff' : '') + text, 'utf16le');
    return bigEndian ? body.swap16() : body;
  };
  const invalidUtf8 = fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0x80], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]);
  const encoded = fc.oneof(
    fc.tuple(fc.string({ maxLength: 10 }), invalidUtf8).map(([text, bad]) =>
      Buffer.concat([Buffer.from(withNonce(`"sessionId":"${text.replace(/["\\]/g, '')}`)), Buffer.from(bad), Buffer.from('"}')]),
    ),
    fc.tuple(nonAscii, fc.boolean(), fc.boolean()).map(([id, bigEndian, bom]) => utf16(withNonce(`"sessionId":${JSON.stringify(id)}`), bigEndian, bom)),
    nonAscii.map((id) => Buffer.from(withNonce(`"sessionId":${JSON.stringify(id)}`), 'latin1')),
    nonAscii.map((id) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(withNonce(`"sessionId":${JSON.stringify(id)}`))])),
  );

  it('answers 400 invalid_json to invalid UTF-8, UTF-16 with or without a byte order mark, latin1 and a UTF-8 byte order mark', async () => {
    await nothingWritten(
      fc.asyncProperty(encoded, async (body) => {
        expect(await refused(await post(ingress.port, body), 400)).toMatchObject({ error: 'invalid_json' });
      }),
      150,
    );
  });

  it('takes any UTF-8 text as sent: the recorded sessionId is exactly the one in the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), async (sessionId) => {
        expect((await post(ingress.port, withNonce(`"sessionId":${JSON.stringify(sessionId)}`))).status).toBe(202);
        expect(ingress.produced.at(-1)?.sessionId).toBe(sessionId);
      }),
      { numRuns: 40 },
    );
  });
});

describe('content types', () => {
  const wrong = fc.oneof(
    fc.constant(null),
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json', 'application/jsonp', 'json', '*/*', 'application/*', ''),
    fc.stringMatching(/^[\x20-\x7e]{0,60}$/).filter((t) => !/json/i.test(t)),
  );

  it('answers 415 to a signed, valid body sent with a missing or wrong Content-Type', async () => {
    await nothingWritten(
      fc.asyncProperty(wrong, async (contentType) => {
        const answer = await post(ingress.port, withNonce('"sessionId":"typed"'), { 'content-type': contentType });
        expect(await refused(answer, 415)).toMatchObject({ error: 'unsupported_media_type' });
      }),
      80,
    );
  });

  it('accepts JSON types in any case, with parameters and with a +json suffix', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.cognigy.webhook+json', 'application/json;charset=UTF-8 ']) {
      expect((await post(ingress.port, withNonce('"sessionId":"typed"'), { 'content-type': contentType })).status, contentType).toBe(202);
    }
  });
});

describe('duplicate keys', () => {
  const validSession = fc.string({ minLength: 1, maxLength: 256 });
  const anyValue = fc.oneof(validSession, fc.jsonValue({ maxDepth: 2 }), fc.constant(''), fc.string({ minLength: 257, maxLength: 300 }));

  it('reads the last of two sessionIds, as JSON.parse does: 202 when it is sound, else 400 naming sessionId', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, async (first, last) => {
        const text = withNonce(`"sessionId":${JSON.stringify(first)},"sessionId":${JSON.stringify(last)}`);
        const expected = (JSON.parse(text) as { sessionId: unknown }).sessionId;
        const before = ingress.produced.length;
        const answer = await post(ingress.port, text);
        if (typeof expected === 'string' && expected.length >= 1 && expected.length <= 256) {
          expect(answer.status, answer.body).toBe(202);
          expect(ingress.produced.at(-1)?.sessionId).toBe(expected);
        } else {
          const body = await refused(answer, 400);
          expect(body).toMatchObject({ error: 'invalid_payload', issues: [{ path: 'sessionId', ...(expected === null ? { message: 'required' } : {}) }] });
          expect(ingress.produced.length).toBe(before);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('reads the last of two confidences: recorded when within 0..1 (null counts as absent), else 400 naming confidence', async () => {
    const confidence = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ noNaN: true }), fc.constant(null), fc.string({ maxLength: 5 }));
    await fc.assert(
      fc.asyncProperty(confidence, confidence, async (first, last) => {
        const text = withNonce(`"sessionId":"twice","confidence":${JSON.stringify(first)},"confidence":${JSON.stringify(last)}`);
        const expected = (JSON.parse(text) as { confidence: unknown }).confidence;
        const answer = await post(ingress.port, text);
        const numeric = typeof expected === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(expected) ? Number(expected) : expected;
        if (numeric === null || (typeof numeric === 'number' && numeric >= 0 && numeric <= 1)) {
          expect(answer.status, answer.body).toBe(202);
          expect(ingress.produced.at(-1)?.confidence).toBe(numeric);
        } else {
          expect(await refused(answer, 400)).toMatchObject({ error: 'invalid_payload', issues: [{ path: 'confidence' }] });
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('deep nesting', () => {
  const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const objects = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

  it('answers 400 to 100,000 levels of [ whether unclosed, closed, the whole body, or under a field', async () => {
    const depth = 100_000;
    expect(await refused(await post(ingress.port, '['.repeat(depth)), 400)).toMatchObject({ error: 'invalid_json' });
    expect(await refused(await post(ingress.port, withNonce(`"sessionId":"deep","entities":${'['.repeat(depth)}`)), 400)).toMatchObject({ error: 'invalid_json' });
    expect(await refused(await post(ingress.port, arrays(depth)), 400)).toMatchObject({ error: 'invalid_payload', issues: [{ path: '' }] });
    expect(await refused(await post(ingress.port, withNonce(`"sessionId":"deep","entities":${arrays(depth)}`)), 400)).toMatchObject({
      error: 'invalid_payload',
      issues: [{ path: 'entities', message: `must be nested at most ${MAX_NESTING} levels deep` }],
    });
    expect(ingress.produced.filter((c) => c.sessionId === 'deep')).toHaveLength(0);
  });

  it(`takes ${MAX_NESTING} levels, and answers 400 naming the field beyond them, in modelled and other fields alike`, async () => {
    const field = fc.constantFrom('entities', 'variables', 'data', 'context', 'notModelled');
    const nesting = fc.oneof(fc.integer({ min: 2, max: MAX_NESTING + 4 }), fc.integer({ min: MAX_NESTING + 1, max: 40_000 }));
    await fc.assert(
      fc.asyncProperty(field, nesting, fc.boolean(), async (name, depth, asArrays) => {
        // The body is level 1, the field's value level 2.
        const text = withNonce(`"sessionId":"nested","${name}":${asArrays ? arrays(depth - 1) : objects(depth - 1)}`);
        const answer = await post(ingress.port, text);
        if (depth <= MAX_NESTING) expect(answer.status, answer.body).toBe(202);
        else expect(await refused(answer, 400)).toMatchObject({ error: 'invalid_payload', issues: [{ path: name }] });
      }),
      { numRuns: 40 },
    );
  });
});

describe('huge numbers', () => {
  const huge = fc.oneof(
    fc.integer({ min: 309, max: 100_000 }).map((exponent) => `1e${exponent}`),
    fc.integer({ min: 309, max: 100_000 }).map((exponent) => `-1e${exponent}`),
    fc.bigInt({ min: 10n ** 29n, max: 10n ** 30n - 1n }).map(String),
    fc.constantFrom('1e308', '1.7976931348623157e308', '9007199254740993'),
  );
  const modelled = fc.constantFrom('confidence', 'userId', 'flowId', 'correlationId', 'timestamp', 'sessionId', 'text', 'intent');

  it('answers 400 naming the field when a modelled field holds a number it cannot use (1e400, 30-digit integers)', async () => {
    await nothingWritten(
      fc.asyncProperty(modelled, huge, async (name, number) => {
        // 1e308 is a finite epoch, kept as sent (see the next test); and any unusable number is refused for the other fields.
        fc.pre(!(name === 'timestamp' && Number.isFinite(Number(number))));
        const text = name === 'sessionId' ? withNonce(`"sessionId":${number}`) : withNonce(`"sessionId":"numbers","${name}":${number}`);
        expect(await refused(await post(ingress.port, text), 400)).toMatchObject({ error: 'invalid_payload', issues: [{ path: name }] });
      }),
      120,
    );
  });

  it('keeps a huge number where it is not modelled, or a finite timestamp out of range, and answers 202 with the bytes as sent', async () => {
    await fc.assert(
      fc.asyncProperty(huge, fc.constantFrom('extra', 'timestamp'), async (number, name) => {
        fc.pre(name === 'extra' || Number.isFinite(Number(number)));
        const text = withNonce(`"sessionId":"numbers-kept","${name}":${number}`);
        expect((await post(ingress.port, text)).status).toBe(202);
        expect(ingress.produced.at(-1)?.rawBody.toString()).toBe(text);
      }),
      { numRuns: 40 },
    );
  });

  it('reads a confidence too small to represent (1e-400) as 0, as JSON.parse does', async () => {
    expect((await post(ingress.port, withNonce('"sessionId":"tiny","confidence":1e-400'))).status).toBe(202);
    expect(ingress.produced.at(-1)).toMatchObject({ sessionId: 'tiny', confidence: 0 });
  });
});

describe('oversized bodies', () => {
  const size = fc.integer({ min: MAX_BODY + 1, max: MAX_BODY * 3 });
  const oversized = (bytes: number) => Buffer.from(withNonce(`"sessionId":"big","text":"${'x'.repeat(bytes)}"`));

  it('answers 413 to a Content-Length over the limit at once, and to a chunked body once the limit is passed', async () => {
    await nothingWritten(
      fc.asyncProperty(size, fc.boolean(), fc.integer({ min: 1_000, max: 70_000 }), async (bytes, withLength, chunkSize) => {
        const body = oversized(bytes);
        const request = withLength
          ? webhookRequest(body)
          : webhookRequest(chunked(body, chunkSize), { 'content-length': null, 'transfer-encoding': 'chunked' });
        const answer = await exchange(ingress.port, { bytes: request.bytes });
        // The rest of the body is not read: the server answers and closes, and a reset may overtake the answer.
        expect([413, 'closed'], answer.body).toContain(answer.status);
      }),
      30,
    );
  });

  it('refuses a body longer than its Content-Length: the declared part fails its signature, the rest is no request', async () => {
    await nothingWritten(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), async (declared) => {
        const body = Buffer.from(withNonce('"sessionId":"longer-than-declared"'));
        const { bytes } = webhookRequest(body, { 'content-length': String(Math.min(declared, body.length - 1)) });
        const answer = await exchange(ingress.port, { bytes });
        // node's parser meets the leftover bytes as the next request and answers 400 itself, unless the
        // ingress's 401 for the declared part (the signature covers the whole body) is out first.
        expect([400, 401], answer.body).toContain(answer.status);
      }),
      30,
    );
  });
});

describe('afterwards', () => {
  it('never answered 5xx, still takes a valid callback and holds no request', async () => {
    const metrics = await ingress.registry.getSingleMetricAsString('ingress_requests_total');
    expect(metrics).not.toMatch(/outcome="error"/);
    expect(ingress.warnings.filter((line) => line.level >= 50)).toEqual([]);
    expect((await post(ingress.port, withNonce('"sessionId":"still-alive"'))).status).toBe(202);
    expect(await ingress.registry.getSingleMetricAsString('ingress_in_flight')).toMatch(/ingress_in_flight\{[^}]*\} 0$/m);
  });

  it('keeps nothing of refused bodies: its heap is flat over repeated rounds of them', async () => {
    const big = (bytes: number) => Buffer.from(withNonce(`"sessionId":"big","text":"${'x'.repeat(bytes)}"`));
    const round = [
      ...Array.from({ length: 6 }, (_, i) => webhookRequest(big(MAX_BODY + 50_000 * i)).bytes),
      ...Array.from({ length: 6 }, (_, i) => webhookRequest(chunked(big(MAX_BODY + 50_000 * i), 16_384), { 'content-length': null, 'transfer-encoding': 'chunked' }).bytes),
      webhookRequest(withNonce(`"sessionId":"deep","entities":${'['.repeat(100_000)}${']'.repeat(100_000)}`)).bytes,
      webhookRequest('['.repeat(200_000)).bytes,
      webhookRequest(Buffer.concat([Buffer.from(withNonce('"sessionId":"')), Buffer.alloc(200_000, 0xff), Buffer.from('"}')])).bytes,
      webhookRequest(withNonce(`"sessionId":"n","confidence":1e400,"text":"${'y'.repeat(200_000)}"`)).bytes,
    ];
    const roundBytes = round.reduce((total, bytes) => total + bytes.length, 0);
    const replay = async () => {
      for (const bytes of round) expect(((await exchange(ingress.port, { bytes })).status as number) >= 400).toBe(true);
    };
    // The first round pays what is allocated once (compiled code, pools); only what later rounds keep counts.
    await replay();
    const settled = await settledHeap(gc);
    const rounds = 4;
    for (let i = 0; i < rounds; i += 1) await replay();
    const after = await settledHeap(gc);
    // Each round sends 5 MB of refused bodies, of which the ingress reads about 4 MB (the oversized
    // ones up to its limit); keeping a tenth of that would pass 1.5 MB after four rounds. Without a
    // forced collection, garbage not yet collected counts too, so the bound then only guards against
    // keeping them all.
    const bound = gc ? 1.5 * 1024 * 1024 : rounds * roundBytes;
    console.info(
      `heap: ${(settled / 1048576).toFixed(1)} MB after one round, ${(after / 1048576).toFixed(1)} MB after ${rounds} more of ${(roundBytes / 1048576).toFixed(1)} MB each (forced gc: ${gc !== undefined})`,
    );
    expect(after - settled).toBeLessThan(bound);
  });
});
