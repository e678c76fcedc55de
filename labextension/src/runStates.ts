import { ISignal, Signal } from '@lumino/signaling';

import { ALL_STATUSES, IRun } from './tokens';

/** Where a status stands in the lifecycle; the three terminal statuses share the last rank. */
export function statusRank(status: string): number {
  const order = ALL_STATUSES as readonly string[];
  const index = order.indexOf(status);
  return index < 0 ? -1 : Math.min(index, order.indexOf('Completed'));
}

/** What one answer of the server says about a run: at least its id and status. */
export type RunUpdate = Partial<IRun> & { run_id: string; status: string };

/**
 * The one state of each run the sidebar shows. The runs list, the open run's detail and its
 * log each learn about runs at their own pace (a page every second, a log chunk every 300 ms);
 * they all write here and the list and the detail both render from here, so the two never
 * disagree. A run only moves forward through its lifecycle: an answer that is older than what
 * is known (a page read before the run started) does not move it back.
 */
export class RunStates {
  /** Emitted once per batch of updates that changed something, with the ids changed. */
  get changed(): ISignal<this, string[]> {
    return this._changed;
  }

  get(runId: string): IRun | undefined {
    return this._runs.get(runId);
  }

  /** Merge one answer; returns whether the run's state changed (and emits if so). */
  update(run: RunUpdate): boolean {
    return this.updateMany([run]);
  }

  /** Merge several answers (a page) and emit `changed` once for all of them. */
  updateMany(runs: RunUpdate[]): boolean {
    const changed: string[] = [];
    for (const run of runs) {
      if (this._merge(run)) {
        changed.push(run.run_id);
      }
    }
    if (changed.length) {
      this._changed.emit(changed);
    }
    return changed.length > 0;
  }

  /** Forget every run (another project). */
  clear(): void {
    this._runs.clear();
  }

  private _merge(run: RunUpdate): boolean {
    const known = this._runs.get(run.run_id);
    const given = stripUndefined(run);
    // A stale answer (the run has moved on since) only fills in fields not known yet.
    const stale = !!known && statusRank(run.status) < statusRank(known.status);
    const merged = (stale ? { ...given, ...known } : { ...(known || {}), ...given }) as IRun;
    if (known && sameRun(known, merged) && Object.keys(merged).length === Object.keys(known).length) {
      return false;
    }
    this._runs.set(run.run_id, merged);
    return true;
  }

  private _runs = new Map<string, IRun>();
  private _changed = new Signal<this, string[]>(this);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sameRun(a: IRun, b: IRun): boolean {
  return a.status === b.status && a.started_at === b.started_at && a.ended_at === b.ended_at &&
    a.duration === b.duration && a.exit_code === b.exit_code && a.reason === b.reason &&
    a.script === b.script && a.target === b.target;
}
