/**
 * A table that keeps only its visible rows in the DOM, so 10,000 rows cost what 30 do: a spacer
 * as tall as all the rows scrolls, and the rows in view (plus a few either side) are rendered as
 * one HTML string into a block moved to their offset. Rows have a fixed height. There are no
 * per-row listeners: actions are buttons with `data-action`, caught by one listener on the table
 * (onAction).
 */
import { esc } from './format.js';

export const ROW_HEIGHT_PX = 28;
/** Rows rendered beyond each edge of the view, so a small scroll shows no blank. */
export const OVERSCAN_ROWS = 8;
export const DEFAULT_VISIBLE_ROWS = 18;

export interface Column<R> {
  title: string;
  /** A CSS grid track, e.g. `2fr` or `90px`. */
  width: string;
  /** The cell's HTML: escape every value (format.ts esc). */
  cell: (row: R) => string;
}

export interface VirtualTableOptions {
  /** How many rows tall the scrolling area is at most. */
  visibleRows?: number;
  empty?: string;
  /** Marks the table for tests and benchmarks. */
  name: string;
}

export class VirtualTable<R> {
  private rows: readonly R[] = [];
  private readonly scroller: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly block: HTMLDivElement;
  private readonly template: string;
  private frame = 0;
  /** What the last paint wrote: the same again leaves the DOM (and the buttons in it) alone. */
  private painted = '';
  private readonly visibleRows: number;
  private readonly onScroll = (): void => {
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.paint());
  };

  constructor(
    host: HTMLElement,
    private readonly columns: readonly Column<R>[],
    private readonly options: VirtualTableOptions,
  ) {
    this.visibleRows = options.visibleRows ?? DEFAULT_VISIBLE_ROWS;
    this.template = columns.map((c) => c.width).join(' ');
    host.innerHTML = `<div class="vt" data-table="${esc(options.name)}" role="table">
      <div class="vt-head" role="row" style="grid-template-columns:${esc(this.template)}">${columns.map((c) => `<div role="columnheader">${esc(c.title)}</div>`).join('')}</div>
      <div class="vt-scroll"><div class="vt-spacer"><div class="vt-rows" role="rowgroup"></div></div></div>
    </div>`;
    this.scroller = host.querySelector('.vt-scroll')!;
    this.spacer = host.querySelector('.vt-spacer')!;
    this.block = host.querySelector('.vt-rows')!;
    this.scroller.addEventListener('scroll', this.onScroll, { passive: true });
  }

  /** One listener for every row's buttons: `data-action` and `data-id` of the button clicked. */
  onAction(handler: (action: string, id: string, button: HTMLButtonElement) => void): void {
    this.block.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-action]');
      if (button !== null && !button.disabled) handler(button.dataset.action ?? '', button.dataset.id ?? '', button);
    });
  }

  setRows(rows: readonly R[]): void {
    this.rows = rows;
    this.scroller.style.height = `${Math.max(1, Math.min(rows.length, this.visibleRows)) * ROW_HEIGHT_PX + 2}px`;
    this.spacer.style.height = `${rows.length * ROW_HEIGHT_PX}px`;
    this.paint();
  }

  get rowCount(): number {
    return this.rows.length;
  }

  private paint(): void {
    this.frame = 0;
    if (this.rows.length === 0) {
      this.write('', `<div class="vt-empty">${esc(this.options.empty ?? 'nothing to show')}</div>`);
      return;
    }
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
    const last = Math.min(this.rows.length, first + this.visibleRows + 2 * OVERSCAN_ROWS);
    const style = `grid-template-columns:${esc(this.template)}`;
    let html = '';
    for (let i = first; i < last; i++) {
      const row = this.rows[i]!;
      html += `<div class="vt-row" role="row" style="${style}">${this.columns.map((c) => `<div role="cell">${c.cell(row)}</div>`).join('')}</div>`;
    }
    this.write(`translateY(${first * ROW_HEIGHT_PX}px)`, html);
  }

  private write(transform: string, html: string): void {
    this.block.style.transform = transform;
    if (html === this.painted) return;
    this.painted = html;
    this.block.innerHTML = html;
  }

  destroy(): void {
    this.scroller.removeEventListener('scroll', this.onScroll);
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
  }
}
