/**
 * Small multiples as one SVG: a grid of line charts sharing the x axis, each with its own y axis,
 * unit, legend, the run's instants (kills, end of load) as dashed vertical lines and its periods
 * (an outage, a rolling restart) as shaded spans. No chart library: a soak report needs lines,
 * axes and labels, nothing more. Pure.
 */

export interface Series {
  name: string;
  /** [x, y] points in x order; a null y breaks the line (the process was not there). */
  points: readonly (readonly [number, number | null])[];
}

export interface Panel {
  title: string;
  /** The y axis's unit, shown beside it: "MiB", "ms", "records", "events/s". */
  unit: string;
  series: readonly Series[];
}

export interface Marker {
  x: number;
  label: string;
}

/** A period on the x axis, shaded, labelled at its foot. */
export interface Span {
  from: number;
  to: number;
  label: string;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  panels: readonly Panel[];
  markers?: readonly Marker[];
  spans?: readonly Span[];
  columns?: number;
}

const PANEL_W = 620;
const PANEL_H = 320;
const PLOT = { left: 64, right: 170, top: 34, bottom: 48 };
const HEADER_H = 58;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const MAX_LEGEND = 16;

export function renderChart(spec: ChartSpec): string {
  const columns = Math.max(1, spec.columns ?? 2);
  const rows = Math.max(1, Math.ceil(spec.panels.length / columns));
  const width = columns * PANEL_W;
  const height = HEADER_H + rows * PANEL_H;
  const xs = spec.panels
    .flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)))
    .concat((spec.markers ?? []).map((m) => m.x))
    .concat((spec.spans ?? []).flatMap((s) => [s.from, s.to]));
  const xDomain = domain(xs, true);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="17" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  if (spec.subtitle) parts.push(`<text x="16" y="44" fill="#555555">${escapeXml(spec.subtitle)}</text>`);
  spec.panels.forEach((panel, i) => {
    const ox = (i % columns) * PANEL_W;
    const oy = HEADER_H + Math.floor(i / columns) * PANEL_H;
    parts.push(renderPanel(panel, ox, oy, xDomain, spec.xLabel, spec.markers ?? [], spec.spans ?? []));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function renderPanel(
  panel: Panel,
  ox: number,
  oy: number,
  xDomain: [number, number],
  xLabel: string,
  markers: readonly Marker[],
  spans: readonly Span[],
): string {
  const plotW = PANEL_W - PLOT.left - PLOT.right;
  const plotH = PANEL_H - PLOT.top - PLOT.bottom;
  const x0 = ox + PLOT.left;
  const y0 = oy + PLOT.top;
  const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y).filter((y): y is number => y !== null && Number.isFinite(y)));
  const yTicks = niceTicks(...domain(ys, true));
  const yDomain: [number, number] = [yTicks[0] ?? 0, yTicks[yTicks.length - 1] ?? 1];
  const xTicks = niceTicks(...xDomain);
  const sx = (x: number) => x0 + ((x - xDomain[0]) / (xDomain[1] - xDomain[0] || 1)) * plotW;
  const sy = (y: number) => y0 + plotH - ((y - yDomain[0]) / (yDomain[1] - yDomain[0] || 1)) * plotH;

  const out = [`<g>`, `<text x="${x0}" y="${oy + 20}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`];
  for (const t of yTicks) {
    const y = round(sy(t));
    out.push(`<line x1="${x0}" x2="${x0 + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" fill="#333333">${formatTick(t)}</text>`);
  }
  for (const t of xTicks.filter((t) => t >= xDomain[0] && t <= xDomain[1])) {
    const x = round(sx(t));
    out.push(`<line x1="${x}" x2="${x}" y1="${y0 + plotH}" y2="${y0 + plotH + 4}" stroke="#333333"/>`);
    out.push(`<text x="${x}" y="${y0 + plotH + 17}" text-anchor="middle" fill="#333333">${formatTick(t)}</text>`);
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH + 36}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  const ly = y0 + plotH / 2;
  out.push(`<text x="${ox + 16}" y="${ly}" text-anchor="middle" transform="rotate(-90 ${ox + 16} ${ly})">${escapeXml(panel.unit)}</text>`);

  spans.forEach((span, i) => {
    const x = round(sx(span.from));
    const width = Math.max(1, round(sx(span.to) - sx(span.from)));
    out.push(`<rect x="${x}" y="${y0}" width="${width}" height="${plotH}" fill="#f2b134" fill-opacity="0.18"/>`);
    // At the foot, staggered, clear of the markers' labels at the top.
    out.push(`<text x="${x + 3}" y="${y0 + plotH - 6 - (i % 3) * 12}" font-size="10" fill="#8a5a00">${escapeXml(span.label)}</text>`);
  });
  markers.forEach((m, i) => {
    const x = round(sx(m.x));
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + plotH}" stroke="#555555" stroke-dasharray="4 3"/>`);
    // Staggered, so labels of events close in time stay readable.
    out.push(`<text x="${x + 3}" y="${y0 + 11 + (i % 4) * 12}" font-size="10" fill="#555555">${escapeXml(m.label)}</text>`);
  });
  panel.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const d = pathOf(s.points, sx, sy);
    // Earlier series are drawn wider, so a line lying exactly on another still shows at its edges.
    const width = Math.max(1.4, 3 - 0.5 * i);
    if (d !== '') out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"><title>${escapeXml(s.name)}</title></path>`);
  });
  if (panel.series.length === 0 || ys.length === 0) {
    out.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH / 2}" text-anchor="middle" fill="#999999">no data</text>`);
  }
  const legendX = x0 + plotW + 14;
  panel.series.slice(0, MAX_LEGEND).forEach((s, i) => {
    const y = y0 + 8 + i * 17;
    const color = COLORS[i % COLORS.length] as string;
    out.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${legendX + 24}" y="${y + 4}">${escapeXml(s.name)}</text>`);
  });
  if (panel.series.length > MAX_LEGEND) {
    out.push(`<text x="${legendX}" y="${y0 + 8 + MAX_LEGEND * 17}" fill="#555555">+${panel.series.length - MAX_LEGEND} more</text>`);
  }
  out.push('</g>');
  return out.join('\n');
}

/** An SVG path through the points, starting a new segment after every gap. */
export function pathOf(points: Series['points'], sx: (x: number) => number, sy: (y: number) => number): string {
  const parts: string[] = [];
  let pen: 'up' | 'down' = 'up';
  for (const [x, y] of points) {
    if (y === null || !Number.isFinite(y)) {
      pen = 'up';
      continue;
    }
    parts.push(`${pen === 'up' ? 'M' : 'L'}${round(sx(x))},${round(sy(y))}`);
    pen = 'down';
  }
  return parts.join(' ');
}

/** [min, max] of the values, from zero when `fromZero`; a flat or empty range is widened. */
function domain(values: readonly number[], fromZero: boolean): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [0, 1];
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (fromZero) min = Math.min(0, min);
  if (max === min) max = min + (min === 0 ? 1 : Math.abs(min) * 0.1);
  return [min, max];
}

/** Round tick values covering [min, max] (1, 2, 2.5 or 5 times a power of ten apart), about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = first; t < max + step * 0.5; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? max) < max) ticks.push(Number((first + ticks.length * step).toPrecision(12)));
  return ticks;
}

/** 1500 -> 1.5k, 2000000 -> 2M, 0.25 -> 0.25. */
export function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(4)));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
