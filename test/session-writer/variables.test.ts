import { describe, expect, it } from 'vitest';
import { parseVariableMap, variablesOf, VariableMapError } from '../../services/session-writer/variables.js';
import { result } from '../ack-aggregator/fixtures.js';

describe('SESSION_VARIABLES_MAP', () => {
  it("maps the default to the runtime API's three variables", () => {
    const map = parseVariableMap('processed_intent=intent,processed_response=response,webhook_processed=true');
    const answer = result({ intent: 'order_status', response: '{"text":"Your parcel ships today"}' });
    expect(variablesOf(answer, map)).toEqual({
      processed_intent: 'order_status',
      processed_response: { text: 'Your parcel ships today' },
      webhook_processed: true,
    });
  });

  it('reads paths into the answer, result fields and JSON literals; what is missing becomes null', () => {
    const map = parseVariableMap(' reply = response.text , route=route, conf=confidence, tier="gold", n=3, deep=response.a.b ');
    expect(variablesOf(result({ route: 'FALLBACK', confidence: null, response: '{"text":"hi"}' }), map)).toEqual({
      reply: 'hi',
      route: 'FALLBACK',
      conf: null,
      tier: 'gold',
      n: 3,
      deep: null,
    });
    expect(variablesOf(result({ response: null }), map)).toMatchObject({ reply: null });
    expect(variablesOf(result({ response: 'not json' }), map)).toMatchObject({ reply: null });
  });

  it.each([
    ['', 'at least one'],
    ['intent', 'not variable=source'],
    ['=intent', 'not variable=source'],
    ['a=intent,a=route', 'mapped twice'],
    ['a=intnet', 'neither a result field'],
    ['a=response..x', 'empty path segment'],
    ['9a=intent', 'not a variable name'],
  ])('refuses %j with a message naming the problem', (text, message) => {
    expect(() => parseVariableMap(text)).toThrow(VariableMapError);
    expect(() => parseVariableMap(text)).toThrow(message);
  });
});
