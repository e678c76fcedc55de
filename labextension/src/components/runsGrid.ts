import { Widget } from '@lumino/widgets';

import { h, replaceChildren } from '../dom';
import { formatDuration, formatValue, runDuration } from '../format';
import { ITableRow, RunsTableModel } from '../tableModel';
import { statusBadge } from './badge';
import { TextFit } from './textFit';

/** Height of a row (px): fixed, so a row's place is its index times this. */
export const ROW_HEIGHT = 28;
/** Rows rendered beyond each edge of the view, so a short scroll shows no blank rows. */
const OVERSCAN = 3;
/** A body cell's padding, left and right (px; style/index.css .aml-GridCell). */
const CELL_PADDING = 12;

/** A column: its header (the accessible name), its server sort key and its cell. */
interface IColumn {
  label: string;
  sort: string;         // '' for a column that does not sort (the selection)
  width: string;
  cell: (row: ITableRow) => Node | string;
  /** Update the cell in place instead (its nodes made once per row element, then reused;
   * such a cell is of a fixed size and never clipped). */
  update?: (cell: HTMLElement, row: ITableRow) => void;
}

/** A row element: its cells (one per column) and what it shows. */
interface IRow {
  node: HTMLElement;
  cells: HTMLElement[];
  /** null: to be written (a new place or new columns). */
  key: string | null;
  data: ITableRow | undefined;
  selected: boolean;
  /** Per cell: whether it has .aml-Clip (its text may overflow: hidden, with an ellipsis). */
  clipped: boolean[];
}

/** Set a cell's text, touching the DOM only when it differs. */
function setText(cell: HTMLElement, text: string): void {
  const child = cell.firstChild;
  if (child && child === cell.lastChild && child.nodeType === Node.TEXT_NODE) {
    if ((child as Text).data !== text) {
      (child as Text).data = text;
    }
  } else {
    replaceChildren(cell, text);
  }
}

/** Set an attribute only when it differs (a write of the same value still costs a style check). */
function setAttribute(node: HTMLElement, name: string, value: string): void {
  if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/** The name a run is shown by: its script, else its id. */
export function runName(row: { script: string | null; run_id: string }): string {
  return row.script || row.run_id;
}

/** One formatter for every cell: `toLocaleString()` builds a new one per call (~0.3 ms). */
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'
});

function started(row: ITableRow): string {
  return TIME_FORMAT.format(new Date((row.run.started_at || row.run.created_at) * 1000));
}

/** The status cell's badge, made once per row element and rewritten in place. */
function updateBadge(cell: HTMLElement, row: ITableRow): void {
  const status = row.run.status;
  let badge = cell.firstChild as HTMLElement | null;
  if (!badge || badge.nodeType !== Node.ELEMENT_NODE) {
    badge = statusBadge(status);
    replaceChildren(cell, badge);
  } else if (badge.title !== status) {
    badge.className = `aml-Badge aml-Status-${status}`;
    badge.title = status;
    setText(badge, status);
  }
}

const FIXED: IColumn[] = [
  { label: 'Name', sort: 'name', width: 'minmax(10em, 2fr)', cell: row => runName(row.run) },
  { label: 'Status', sort: 'status', width: '7.5em', cell: row => statusBadge(row.run.status), update: updateBadge },
  { label: 'Target', sort: 'target', width: 'minmax(6em, 1fr)', cell: row => row.run.target },
  { label: 'Started', sort: 'start', width: '11em', cell: started },
  { label: 'Duration', sort: 'duration', width: '6em', cell: row => formatDuration(runDuration(row.run)) }
];

/**
 * The runs as an ARIA grid ("Runs"): a header row of column headers that sort on the server
 * (a second click reverses), and a body that renders only the rows in view plus a few
 * (`OVERSCAN`), each at its index's place in a spacer as tall as all rows. Scrolling asks the
 * model for the pages it shows; a row not read yet is a placeholder until its page answers.
 * Only the header is a CSS grid: a body row is a flex row of cells as wide as the header's
 * (read once per resize or column change into CSS variables), so that scrolling lays out no
 * grid per row (a third less layout; benchmarks/RESULTS-lab.md).
 */
export class RunsGrid extends Widget {
  constructor(readonly model: RunsTableModel, private readonly _open: (row: ITableRow) => void) {
    super();
    this.addClass('aml-Grid');
    this.node.setAttribute('role', 'grid');
    this.node.setAttribute('aria-label', 'Runs');
    const head = h('div', { role: 'rowgroup', className: 'aml-GridHead' }, this._header);
    this._head = head;
    // no layout read here: the frame's render reads the scroll position once
    this._body.addEventListener('scroll', () => this._schedule(), { passive: true });
    this._body.appendChild(this._spacer);
    this.node.appendChild(head);
    this.node.appendChild(this._body);
    model.changed.connect(this._onChanged, this);
  }

  protected onAfterAttach(): void {
    this._resized.observe(this._body);
    this._onChanged();
  }

  protected onBeforeDetach(): void {
    this._resized.disconnect();
  }

  protected onResize(): void {
    this._schedule();
  }

  /** The query or the rows changed: rebuild the header if its columns did, then the rows. */
  private _onChanged(): void {
    const m = this.model;
    const select: IColumn = {
      label: 'Selected', sort: '', width: '2.2em', cell: row => h('input', {
        type: 'checkbox', className: 'aml-SelectRun', 'aria-label': `Select ${runName(row.run)}`,
        checked: m.selected.has(row.run.run_id),
        onclick: (event: Event) => event.stopPropagation(),
        onchange: (event: Event) => m.select(row.run.run_id, (event.target as HTMLInputElement).checked)
      }),
      update: (cell, row) => {
        let box = cell.firstChild as HTMLInputElement | null;
        if (!box || box.nodeType !== Node.ELEMENT_NODE) {
          box = h('input', {
            type: 'checkbox', className: 'aml-SelectRun',
            onclick: (event: Event) => event.stopPropagation(),
            onchange: () => box && box.dataset.runId && m.select(box.dataset.runId, box.checked)
          }) as HTMLInputElement;
          replaceChildren(cell, box);
        }
        box.dataset.runId = row.run.run_id;
        box.setAttribute('aria-label', `Select ${runName(row.run)}`);
        box.checked = m.selected.has(row.run.run_id);
      }
    };
    this._columns = [
      select,
      ...FIXED,
      ...m.shownMetrics.map(name => ({
        label: name, sort: `metric:${name}`, width: 'minmax(6em, 1fr)',
        cell: (row: ITableRow) => name in row.metrics ? formatValue(row.metrics[name]) : ''
      })),
      ...m.shownParameters.map(name => ({
        label: `--${name}`, sort: `param:${name}`, width: 'minmax(5em, 1fr)',
        cell: (row: ITableRow) => name in row.parameters ? formatValue(row.parameters[name]) : ''
      }))
    ];
    const template = this._columns.map(c => c.width).join(' ');
    const headerKey = JSON.stringify([template, this._columns.map(c => c.sort), m.sort, m.order]);
    if (headerKey !== this._headerKey) {
      this._headerKey = headerKey;
      this._sizeKey = '';
      this._header.style.gridTemplateColumns = template;
      replaceChildren(this._header, ...this._columns.map((column, index) => this._headerCell(column, index)));
      this._dropRows();
      this._geometryDirty = true;
    }
    if (this._generation !== m.generation) {
      this._generation = m.generation;
      this._body.scrollTop = 0;
    }
    const total = m.total || 0;
    const sizeKey = `${m.total}:${this._columns.length}`;
    if (sizeKey !== this._sizeKey) {           // most changes are rows arriving: no writes here
      this._sizeKey = sizeKey;
      this.node.setAttribute('aria-rowcount', String(total + 1));
      this.node.setAttribute('aria-colcount', String(this._columns.length));
      this.node.dataset.total = m.total === null ? '' : String(total);
      this._spacer.style.height = `${total * ROW_HEIGHT}px`;
    }
    this._render();
  }

  private _headerCell(column: IColumn, index: number): HTMLElement {
    const m = this.model;
    if (!column.sort) {
      return h('div', { role: 'columnheader', className: 'aml-GridHeader', 'aria-colindex': index + 1 },
        h('span', { className: 'aml-VisuallyHidden' }, column.label));
    }
    const sorted = m.sort === column.sort;
    return h('div', {
      role: 'columnheader', className: `aml-GridHeader${sorted ? ' aml-mod-sorted' : ''}`,
      'aria-colindex': index + 1, 'aria-sort': sorted ? (m.order === 'asc' ? 'ascending' : 'descending') : 'none',
      'data-sort': column.sort, tabindex: 0, title: `Sort by ${column.label}`,
      onclick: () => m.toggleSort(column.sort),
      onkeydown: (event: Event) => {
        if ((event as KeyboardEvent).key === 'Enter' || (event as KeyboardEvent).key === ' ') {
          event.preventDefault();
          m.toggleSort(column.sort);
        }
      }
    }, column.label, sorted ? h('span', { className: 'aml-SortMark', 'aria-hidden': 'true' }, m.order === 'asc' ? ' ▲' : ' ▼') : null);
  }

  private _schedule(): void {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this._render();
      });
    }
  }

  /**
   * Place the rows in view (plus the overscan). Row elements and their cells are reused: a
   * row that leaves the view is moved to an index that enters it and only its changed cells
   * are rewritten, so scrolling through 100,000 rows makes little garbage (and no long GC).
   */
  private _render(): void {
    const total = this.model.total || 0;
    const top = this._body.scrollTop;
    const left = this._body.scrollLeft;
    if (left !== this._left) {
      this._left = left;
      this._head.scrollLeft = left;
    }
    if (this._geometryDirty) {
      this._measure();
    }
    const height = this._height || 600;
    // the overscan stays on a jump: rendering the rows in view only, then the overscan with the
    // page's answer, moved 6 rows in and out of the pool (display: none) each jump, and the layout
    // tree rebuilt for them cost more than their cells' text
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    this.model.want(first, Math.max(last, first));
    const free: IRow[] = [];
    for (const [index, row] of this._rows) {
      if (index < first || index > last) {
        this._rows.delete(index);
        free.push(row);
      }
    }
    for (let index = first; index <= last; index++) {
      let row = this._rows.get(index);
      if (!row) {
        row = free.pop() || this._newRow();
        row.node.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
        row.node.setAttribute('aria-rowindex', String(index + 2));
        row.node.hidden = false;
        row.key = null;
        this._rows.set(index, row);
      }
      // a page read again brings new row objects: identity (no string building per row and
      // frame, whose garbage made GC pauses inside the scroll's frames) says what changed
      const data = this.model.row(index);
      const selected = data !== undefined && this.model.selected.has(data.run.run_id);
      if (row.key === null || row.data !== data || row.selected !== selected) {
        row.key = '';
        row.selected = selected;
        this._fill(row, data);
      }
    }
    for (const row of free) {                    // kept for later, out of view and of the tree
      row.node.hidden = true;
      row.node.removeAttribute('data-run-id');
      this._pool.push(row);
    }
  }

  private _newRow(): IRow {
    const pooled = this._pool.pop();
    if (pooled) {
      return pooled;
    }
    const node = h('div', { role: 'row', className: 'aml-GridRow' });
    node.addEventListener('click', () => row.data && this._open(row.data));
    node.addEventListener('keydown', (event: KeyboardEvent) => {
      if (event.key === 'Enter' && row.data) {
        this._open(row.data);
      }
    });
    const cells = this._columns.map((column, index) => h('div', {
      role: 'gridcell', className: 'aml-GridCell', 'aria-colindex': index + 1, 'data-column': column.sort || 'selected'
    }));
    cells.forEach((cell, index) => {         // as wide as its header cell (_measure)
      cell.style.width = `var(--aml-c${index}-w)`;
      node.appendChild(cell);
    });
    cells.forEach(cell => cell.classList.add('aml-Clip'));   // until measured: safe
    const row: IRow = { node, cells, key: null, data: undefined, selected: false, clipped: cells.map(() => true) };
    this._spacer.appendChild(node);
    return row;
  }

  /** Write a row's cells: text in place when it is text, a node (badge, checkbox) anew. */
  private _fill(row: IRow, data: ITableRow | undefined): void {
    row.data = data;
    const node = row.node;
    if (!data) {
      node.removeAttribute('data-run-id');
      node.removeAttribute('tabindex');
      // the cells keep the text they had, hidden by .aml-Loading (no text to lay out: a jump
      // across the list shows ~40 placeholders, then the same rows again when the page answers)
      node.classList.add('aml-Loading');
      return;
    }
    node.classList.remove('aml-Loading');
    setAttribute(node, 'data-run-id', data.run.run_id);
    setAttribute(node, 'data-status', data.run.status);
    setAttribute(node, 'title', data.run.reason || data.run.run_id);
    setAttribute(node, 'tabindex', '0');
    this._columns.forEach((column, index) => {
      const cell = row.cells[index];
      if (column.update) {
        column.update(cell, data);
        return;
      }
      const value = column.cell(data);
      if (typeof value === 'string') {
        setText(cell, value);
      } else {
        replaceChildren(cell, value);
      }
      const clip = typeof value !== 'string' || !this._fit.fits(value, this._cellWidths[index]);
      if (clip !== row.clipped[index]) {
        row.clipped[index] = clip;
        cell.classList.toggle('aml-Clip', clip);
      }
    });
  }

  /** The columns' places and widths, read from the header (a CSS grid) once per resize or
   * new columns, so that the body's rows need no grid layout of their own. */
  private _measure(): void {
    this._geometryDirty = false;
    const style = this._spacer.style;
    let right = 0;
    this._cellWidths = [];
    Array.from(this._header.children).forEach((cell, index) => {
      const c = cell as HTMLElement;
      style.setProperty(`--aml-c${index}-x`, `${c.offsetLeft}px`);
      style.setProperty(`--aml-c${index}-w`, `${c.offsetWidth}px`);
      right = Math.max(right, c.offsetLeft + c.offsetWidth);
      this._cellWidths.push(c.offsetWidth - CELL_PADDING);
    });
    style.setProperty('--aml-row-w', `${right}px`);
    const font = getComputedStyle(this._body);
    this._fit.setFont(`${font.fontStyle} ${font.fontWeight} ${font.fontSize} ${font.fontFamily}`);
    for (const row of this._rows.values()) {     // their cells' clipping: for the new widths
      row.key = null;
    }
  }

  /** The columns changed: every row element is made anew for them. */
  private _dropRows(): void {
    for (const row of [...this._rows.values(), ...this._pool]) {
      row.node.remove();
    }
    this._rows.clear();
    this._pool = [];
  }

  private _columns: IColumn[] = FIXED;
  private _headerKey = '';
  private _sizeKey = '';
  private _generation = -1;
  private _frame = 0;
  private _header = h('div', { role: 'row', className: 'aml-GridRow aml-GridHeaderRow', 'aria-rowindex': 1 });
  private _body = h('div', { className: 'aml-GridBody', role: 'rowgroup' });
  private _spacer = h('div', { className: 'aml-GridSpacer' });
  private _rows = new Map<number, IRow>();
  private _pool: IRow[] = [];
  /** The body's height, kept by the ResizeObserver (not read while scrolling). */
  private _height = 0;
  private _left = 0;
  private _geometryDirty = true;
  /** The text width each column's cells have (px), read with the columns' places. */
  private _cellWidths: number[] = [];
  private _fit = new TextFit();
  private _head: HTMLElement;
  private _resized = new ResizeObserver(entries => {
    for (const entry of entries) {
      this._height = entry.contentRect.height;
    }
    this._geometryDirty = true;
    this._schedule();
  });
}
