import { h, replaceChildren } from '../dom';
import { requestAPI } from '../handler';
import { SweepListJson } from '../tokens';

/**
 * The runs page's sweep filter ("Sweep filter"): "all runs", then each sweep of the project
 * (newest first, with its count of child runs). Choosing one shows only its child runs; the
 * list is read when the page opens and again each time the control takes focus, so a sweep
 * started meanwhile appears without a reload.
 */
export class SweepFilter {
  constructor(private readonly _projectPath: string, private readonly _changed: (parent: string) => void) {
    this.node.addEventListener('change', () => this._changed(this.node.value));
    this.node.addEventListener('focus', () => void this.load());
    void this.load();
  }

  readonly node = h('select', { className: 'aml-TableSweep jp-mod-styled', 'aria-label': 'Sweep filter' },
    h('option', { value: '' }, 'all runs')) as HTMLSelectElement;

  /** The sweep chosen ('' for all runs). */
  get value(): string {
    return this.node.value;
  }

  async load(): Promise<void> {
    let answer: SweepListJson;
    try {
      answer = await requestAPI<SweepListJson>('sweeps', {}, { project: this._projectPath });
    } catch {
      return;                      // the table's own request says what is wrong
    }
    const chosen = this.node.value;
    const options = [['', 'all runs'], ...answer.sweeps.map(s => [s.run_id,
      `sweep ${s.name} · ${s.run_id.slice(-4)} (${s.children} run${s.children === 1 ? '' : 's'})`])];
    if (chosen && !answer.sweeps.some(s => s.run_id === chosen)) {
      options.push([chosen, `sweep ${chosen}`]);
    }
    const key = JSON.stringify(options);
    if (key !== this._key) {
      this._key = key;
      replaceChildren(this.node, ...options.map(([value, label]) => h('option', { value, title: value }, label)));
      this.node.value = chosen;
    }
  }

  private _key = '';
}
