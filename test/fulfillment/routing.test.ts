import { describe, expect, it } from 'vitest';
import { parseThresholdOverrides, route, thresholdFor, type Thresholds } from '../../services/fulfillment/routing.js';

const thresholds: Thresholds = { default: 0.8, byIntent: new Map([['book_flight', 0.9], ['greeting', 0.5]]) };

describe('confidence routing', () => {
  it('sends a callback at or above the global threshold downstream', () => {
    expect(route({ intent: 'order_status', confidence: 0.94 }, thresholds)).toEqual({ route: 'downstream', threshold: 0.8 });
    expect(route({ intent: 'order_status', confidence: 0.8 }, thresholds)).toEqual({ route: 'downstream', threshold: 0.8 });
  });

  it('answers a callback below the threshold with a fallback', () => {
    expect(route({ intent: 'order_status', confidence: 0.5 }, thresholds)).toEqual({ route: 'fallback', threshold: 0.8 });
  });

  it('uses the per-intent override where one exists, in both directions', () => {
    expect(route({ intent: 'book_flight', confidence: 0.85 }, thresholds)).toEqual({ route: 'fallback', threshold: 0.9 });
    expect(route({ intent: 'greeting', confidence: 0.6 }, thresholds)).toEqual({ route: 'downstream', threshold: 0.5 });
    expect(thresholdFor(null, thresholds)).toBe(0.8);
  });

  it('sends a callback without confidence downstream, with no threshold applied', () => {
    expect(route({ intent: null, confidence: null }, thresholds)).toEqual({ route: 'downstream', threshold: null });
  });

  it('treats a NaN confidence as too low', () => {
    expect(route({ intent: 'order_status', confidence: Number.NaN }, thresholds).route).toBe('fallback');
  });
});

describe('CONFIDENCE_THRESHOLDS parsing', () => {
  it('reads intent=threshold pairs, tolerating spaces and an empty value', () => {
    const parsed = parseThresholdOverrides(' book_flight=0.9, greeting = 0.5 ');
    expect(parsed).toEqual({ ok: true, value: new Map([['book_flight', 0.9], ['greeting', 0.5]]) });
    expect(parseThresholdOverrides('')).toEqual({ ok: true, value: new Map() });
  });

  it.each(['book_flight', 'book_flight=', '=0.5', 'book_flight=1.5', 'book_flight=high', 'a=-0.1'])('refuses %j', (text) => {
    const parsed = parseThresholdOverrides(text);
    expect(parsed.ok).toBe(false);
  });
});
