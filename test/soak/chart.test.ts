import { describe, expect, it } from 'vitest';
import { formatTick, niceTicks, pathOf, renderChart, type ChartSpec } from '../../tools/soak/chart.js';

const spec: ChartSpec = {
  title: 'Soak <run> & co',
  subtitle: '100/s for 1 min',
  xLabel: 'minutes since the load started',
  panels: [
    {
      title: 'Resident memory',
      unit: 'MiB',
      series: [
        { name: 'ingress#1', points: [[0, 80], [0.5, 85], [1, 90]] },
        { name: 'fulfillment#1', points: [[0, 100], [0.5, null], [1, 120]] },
      ],
    },
    { title: 'Consumer lag', unit: 'records', series: [] },
  ],
  markers: [{ x: 0.5, label: 'kill fulfillment#1' }],
};

describe('the SVG chart', () => {
  it('is one well-formed SVG with a titled panel, axis unit and legend entry per series', () => {
    const svg = renderChart(spec);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>Resident memory</text>');
    expect(svg).toContain('>MiB</text>');
    expect(svg).toContain('>records</text>');
    expect(svg).toContain('>minutes since the load started</text>');
    expect(svg).toContain('>ingress#1</text>');
    expect(svg).toContain('>fulfillment#1</text>');
    expect(svg).toContain('>kill fulfillment#1</text>');
    expect(svg.match(/<path /g)).toHaveLength(2);
    // The empty panel says so instead of drawing an axis over nothing.
    expect(svg).toContain('>no data</text>');
  });

  it('shades each period across every panel, labelled once per panel, and widens the x axis to hold it', () => {
    const svg = renderChart({ ...spec, spans: [{ from: 0.4, to: 1.5, label: 'downstream down' }] });
    expect(svg.match(/fill-opacity="0.18"/g)).toHaveLength(spec.panels.length);
    expect(svg.match(/>downstream down<\/text>/g)).toHaveLength(spec.panels.length);
    // The x axis reaches the span's end, past the last point at 1.
    expect(svg).toContain('>1.5</text>');
  });

  it('escapes text, so a label cannot break the document', () => {
    const svg = renderChart(spec);
    expect(svg).toContain('Soak &lt;run&gt; &amp; co');
    expect(svg).not.toContain('<run>');
  });

  it('breaks a line where a value is missing (a process that was not there)', () => {
    const d = pathOf([[0, 1], [1, null], [2, 3], [3, 4]], (x) => x * 10, (y) => y);
    expect(d).toBe('M0,1 M20,3 L30,4');
  });

  it('puts round ticks around the data, from the minimum to past the maximum', () => {
    expect(niceTicks(0, 9.7)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(95, 130)).toEqual([90, 100, 110, 120, 130]);
    const wide = niceTicks(0, 12_345);
    expect(wide[0]).toBe(0);
    expect(wide.at(-1)).toBeGreaterThanOrEqual(12_345);
    expect(niceTicks(5, 5).length).toBeGreaterThan(1);
  });

  it('writes large tick values short', () => {
    expect(formatTick(2_500)).toBe('2500');
    expect(formatTick(25_000)).toBe('25k');
    expect(formatTick(2_000_000)).toBe('2M');
    expect(formatTick(0.25)).toBe('0.25');
  });
});
