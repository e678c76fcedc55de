import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './handler';
import { message } from './model';
import { IRun, RunTableJson, SortOrder } from './tokens';

/** Rows per request: a screenful or two; the grid asks for the pages it shows. */
export const TABLE_PAGE = 100;
/** Pages kept in memory; the farthest from the view are dropped first. */
const KEEP_PAGES = 40;
/** How often the pages in view are read again while the table is shown. */
const REFRESH_MS = 3000;

/** A row of the table: the run, its latest metrics and its parameters. */
export interface ITableRow {
  run: IRun;
  metrics: Record<string, unknown>;
  parameters: Record<string, unknown>;
}

/** Metric (and parameter) columns shown until some are chosen: the first names. */
const DEFAULT_COLUMNS = 3;

/** The sorts whose first click is ascending (names, statuses, targets read A to Z). */
const ASCENDING_FIRST = new Set(['name', 'status', 'target']);

/**
 * The runs table of one project: its query (sort, order, filters, search) and the pages of
 * rows read so far, by page number. Sorting and filtering happen on the server; a change of
 * the query starts a new generation, and answers of an older one are dropped.
 */
export class RunsTableModel {
  constructor(public projectPath: string) {}

  sort = 'start';
  order: SortOrder = 'desc';
  statusFilter = '';
  targetFilter = '';
  text = '';
  /** The sweep whose child runs are shown ('' for all runs). */
  parentFilter = '';
  /** Runs matching the query; null until the first page answers. */
  total: number | null = null;
  metricNames: string[] = [];
  parameterNames: string[] = [];
  error = '';
  /** What the last action on the selected runs could not do, a line per run. */
  actionError = '';
  /** Bumped by every change of the query; answers of an older one are dropped. */
  generation = 0;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The metric columns shown: those chosen, else the first few names. */
  get shownMetrics(): string[] {
    return this._chosen.metric || this.metricNames.slice(0, DEFAULT_COLUMNS);
  }

  /** The parameter columns shown: those chosen, else the first few names. */
  get shownParameters(): string[] {
    return this._chosen.param || this.parameterNames.slice(0, DEFAULT_COLUMNS);
  }

  /** Show or hide the column of a metric or parameter (the column chooser). */
  showColumn(kind: 'metric' | 'param', name: string, shown: boolean): void {
    const names = kind === 'metric' ? this.metricNames : this.parameterNames;
    const current = kind === 'metric' ? this.shownMetrics : this.shownParameters;
    const wanted = new Set(current);
    if (shown) {
      wanted.add(name);
    } else {
      wanted.delete(name);
    }
    this._chosen[kind] = names.filter(n => wanted.has(n));
    this._changed.emit(undefined);
  }

  /** The runs ticked for an action (Cancel, Delete), by id; kept across sorts and filters. */
  readonly selected = new Set<string>();

  select(runId: string, on: boolean): void {
    if (on) {
      this.selected.add(runId);
    } else {
      this.selected.delete(runId);
    }
    this._changed.emit(undefined);
  }

  /** Call ACTION for each selected run, one after the other; returns the failures' lines. */
  async forSelected(action: (runId: string) => Promise<unknown>): Promise<string[]> {
    const failures: string[] = [];
    for (const runId of Array.from(this.selected)) {
      try {
        await action(runId);
        this.selected.delete(runId);
      } catch (error) {
        failures.push(`${runId}: ${message(error)}`);
      }
    }
    this.actionError = failures.join('\n');
    this._restart();
    return failures;
  }

  /** The row at INDEX, or undefined while its page is not read yet. */
  row(index: number): ITableRow | undefined {
    const page = this._pages.get(Math.floor(index / TABLE_PAGE));
    return page ? page[index % TABLE_PAGE] : undefined;
  }

  /** A header was clicked: sort by KEY, or reverse the order when it already is. */
  toggleSort(key: string): void {
    if (this.sort === key) {
      this.order = this.order === 'desc' ? 'asc' : 'desc';
    } else {
      this.sort = key;
      this.order = ASCENDING_FIRST.has(key) ? 'asc' : 'desc';
    }
    this._restart();
  }

  /** Show only the child runs of this sweep ('' for every run). */
  setParent(parent: string): void {
    if (parent !== this.parentFilter) {
      this.parentFilter = parent;
      this._restart();
    }
  }

  setFilters(status: string, target: string, text: string): void {
    if (status === this.statusFilter && target === this.targetFilter && text === this.text) {
      return;
    }
    this.statusFilter = status;
    this.targetFilter = target;
    this.text = text;
    this._restart();
  }

  /** Make sure the rows FIRST..LAST are read (or being read); the view calls this. The
   * requests start in a task of their own, not in the view's frame (a fetch's start, with
   * the cookie read for the XSRF header, was ~1 ms of each jump's frame). */
  want(first: number, last: number): void {
    this._view = [first, last];
    const pages = this._pagesOf(first, last);
    for (const page of pages) {
      if (!this._pages.has(page) && !this._loading.has(page) && !this._asked.has(page)) {
        this._asked.add(page);
        const generation = this.generation;
        window.setTimeout(() => {
          this._asked.delete(page);
          if (generation === this.generation && !this._pages.has(page)) {
            void this._load(page, generation);
          }
        }, 0);
      }
    }
  }

  /** Read the pages in view again (runs change state; new runs come). */
  async refresh(): Promise<void> {
    const generation = this.generation;
    const pages = this._pagesOf(...this._view);
    await Promise.all(pages.map(page => this._load(page, generation, true)));
  }

  start(): void {
    this.stop();
    this._timer = window.setInterval(() => void this.refresh(), REFRESH_MS);
  }

  stop(): void {
    window.clearInterval(this._timer);
  }

  private _pagesOf(first: number, last: number): number[] {
    const pages: number[] = [];
    const end = this.total === null ? Math.max(first, 0) : Math.min(last, this.total - 1);
    for (let page = Math.floor(Math.max(first, 0) / TABLE_PAGE); page <= Math.floor(Math.max(end, 0) / TABLE_PAGE); page++) {
      pages.push(page);
    }
    return pages;
  }

  private _restart(): void {
    this.generation += 1;
    this._pages.clear();
    this._loading.clear();
    this._asked.clear();
    this.total = null;
    this._view = [0, 0];
    this._changed.emit(undefined);
    void this._load(0, this.generation);
  }

  private async _load(page: number, generation: number, again = false): Promise<void> {
    if (this._loading.has(page) && !again) {
      return;
    }
    this._loading.add(page);
    try {
      const params: Record<string, string | number> = {
        project: this.projectPath, sort: this.sort, order: this.order,
        limit: TABLE_PAGE, offset: page * TABLE_PAGE
      };
      if (this.statusFilter) {
        params.status = this.statusFilter;
      }
      if (this.targetFilter) {
        params.target = this.targetFilter;
      }
      if (this.parentFilter) {
        params.parent = this.parentFilter;
      }
      if (this.text.trim()) {
        params.q = this.text.trim();
      }
      const answer = await requestAPI<RunTableJson>('run-table', {}, params);
      if (generation !== this.generation) {
        return;                                   // the query changed meanwhile
      }
      this._pages.set(page, answer.runs.map(run => ({
        run,
        metrics: answer.metrics[run.run_id] || {},
        parameters: answer.parameters[run.run_id] || {}
      })));
      this.total = answer.total;
      this.metricNames = answer.metric_names;
      this.parameterNames = answer.parameter_names;
      this.error = '';
      this._evict(page);
    } catch (error) {
      if (generation === this.generation) {
        this.error = message(error);
      }
    } finally {
      if (generation === this.generation) {
        this._loading.delete(page);
      }
    }
    if (generation === this.generation) {
      this._changed.emit(undefined);
    }
  }

  /** Keep at most KEEP_PAGES pages: drop those farthest from the one just read. */
  private _evict(near: number): void {
    if (this._pages.size <= KEEP_PAGES) {
      return;
    }
    const far = Array.from(this._pages.keys()).sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
    for (const page of far.slice(0, this._pages.size - KEEP_PAGES)) {
      this._pages.delete(page);
    }
  }

  private _chosen: { metric: string[] | null; param: string[] | null } = { metric: null, param: null };
  private _pages = new Map<number, ITableRow[]>();
  private _loading = new Set<number>();
  /** Pages asked for by the view whose request has not started yet. */
  private _asked = new Set<number>();
  private _view: [number, number] = [0, 0];
  private _timer = 0;
  private _changed = new Signal<this, void>(this);
}
