import { Panel, Widget } from '@lumino/widgets';

import { IScatterPoint, ISeriesLine, overlayChart, runColour, Scale, scatterChart } from '../compareCharts';
import { h } from '../dom';
import { formatDuration, formatValue } from '../format';
import { requestAPI } from '../handler';
import { message } from '../model';
import { ComparedRunJson, RunComparisonJson } from '../tokens';
import { Rendered } from './rendered';
import { runName } from './runsGrid';

/** What to compare: runs by id, or the children of a sweep. */
export interface ICompareRequest {
  runs?: string[];
  sweep?: string;
}

/** The id of the compare tab for REQUEST in a project (the same runs open one tab). */
export function comparePageId(projectPath: string, request: ICompareRequest): string {
  const what = request.sweep ? `sweep-${request.sweep}` : [...(request.runs || [])].sort().join('+');
  return `aml-compare-${encodeURIComponent(projectPath) || 'root'}-${what}`;
}

/** A finite number, or undefined (text, lists, booleans are not drawn). */
function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Do the runs' values differ (a run without the value counts as different)? */
function differs(values: unknown[]): boolean {
  return new Set(values.map(v => JSON.stringify(v === undefined ? null : v))).size > 1;
}

/**
 * The compare page (a main-area tab): the selected runs side by side. Their parameters and
 * final metrics in tables whose differing rows (and the cells unlike the first run's) are
 * marked; each metric's series of every run overlaid on one chart; and a scatter of a chosen
 * metric against a chosen parameter, a point per run, with a log toggle for either axis.
 */
export class ComparePage extends Panel {
  constructor(readonly projectPath: string, readonly request: ICompareRequest) {
    super();
    this.addClass('aml-ComparePage');
    this.id = comparePageId(projectPath, request);
    this.title.label = request.sweep ? 'Compare sweep' : `Compare ${(request.runs || []).length} runs`;
    this.title.caption = request.sweep ? `The child runs of sweep ${request.sweep}` : (request.runs || []).join(', ');
    this.title.closable = true;
    // the dock makes the panel a tabpanel named by its tab: the region is a node inside it
    this.addWidget(new Widget({ node: h('div', { role: 'region', 'aria-label': 'Compare runs', className: 'aml-CompareRegion' },
      this._top.node, this._seriesArea.node, this._scatterArea.node) }));
    this._top.render('loading', () => h('div', { className: 'aml-Empty' }, 'Loading the runs…'));
    void this.load();
  }

  /** The comparison as last read (undefined until it answers). */
  get data(): RunComparisonJson | undefined {
    return this._data;
  }

  /** Read the comparison again and draw it. */
  async load(): Promise<void> {
    const params = { project: this.projectPath, run: this.request.runs, sweep: this.request.sweep };
    try {
      this._data = await requestAPI<RunComparisonJson>('compare', {}, params);
    } catch (error) {
      const text = message(error);
      this._top.render(`error:${text}`, () => h('div', { className: 'aml-Error', role: 'alert' }, text));
      return;
    }
    const data = this._data;
    if (!this._xName) {
      this._xName = this._defaultParameter(data);
      this._yName = this._scatterMetrics(data)[0] || '';
    }
    this.title.label = `Compare ${data.runs.length} runs`;
    this._top.reset();
    this._top.render('data', () => this._tables(data));
    this._renderSeries();
    this._renderScatter();
  }

  private _label(run: ComparedRunJson): string {
    return `${runName(run)} · ${run.run_id.slice(-4)}`;
  }

  /** A table with a row per NAME and a column per run; rows whose values differ are marked. */
  private _table(label: string, heading: string, names: string[], value: (run: ComparedRunJson, name: string) => unknown,
    show: (value: unknown) => string = v => (v === undefined || v === null ? '' : formatValue(v))): HTMLElement {
    const runs = this._data!.runs;
    const head = h('tr', {}, h('th', { scope: 'col' }, heading), ...runs.map((run, i) => h('th', {
      scope: 'col', className: 'aml-CompareRunHead', 'data-run-id': run.run_id, title: run.run_id
    }, h('span', { className: 'aml-Swatch', style: `background:${runColour(i)}`, 'aria-hidden': 'true' }),
    this._label(run))));
    const rows = names.map(name => {
      const values = runs.map(run => value(run, name));
      const differ = differs(values);
      const first = JSON.stringify(values[0] ?? null);
      return h('tr', { className: differ ? 'aml-mod-differs' : '', 'data-name': name },
        h('th', { scope: 'row' }, name, differ ? h('span', { className: 'aml-VisuallyHidden' }, ' (differs)') : null),
        ...values.map((v, i) => h('td', {
          'data-run-id': runs[i].run_id,
          className: differ && i > 0 && JSON.stringify(v ?? null) !== first ? 'aml-mod-differs' : ''
        }, show(v))));
    });
    return h('section', { className: 'aml-CompareSection' }, h('h3', {}, label),
      names.length
        ? h('table', { className: 'aml-Table aml-CompareTable', 'aria-label': label }, h('thead', {}, head), h('tbody', {}, ...rows))
        : h('div', { className: 'aml-Empty' }, `No ${label.toLowerCase()}.`));
  }

  private _tables(data: RunComparisonJson): HTMLElement {
    const runFields: Array<[string, (run: ComparedRunJson) => unknown]> = [
      ['status', run => run.status], ['target', run => run.target],
      ['duration', run => formatDuration(run.duration)], ['python', run => run.python],
      ['git commit', run => run.git_commit ? run.git_commit.slice(0, 10) + (run.git_dirty ? ' (dirty)' : '') : null],
      ['arguments', run => run.arguments.join(' ')]
    ];
    const fields = new Map(runFields);
    return h('div', { className: 'aml-CompareTables' },
      h('h2', { className: 'aml-ComparePageName' }, `Compare ${data.runs.length} runs`,
        this.request.sweep ? ` of sweep ${this.request.sweep}` : ''),
      this._table('Parameters', 'Parameter', data.parameter_names, (run, name) => (data.parameters[run.run_id] || {})[name]),
      this._table('Final metrics', 'Metric', data.metrics, (run, name) => run.metrics[name]),
      this._table('Runs', 'Field', Array.from(fields.keys()), (run, name) => fields.get(name)!(run)),
      data.environment_differences.length
        ? this._table('Environment differences', 'Variable', data.environment_differences, (run, name) => run.environment[name])
        : null);
  }

  /** The metrics with a series in some run, each overlaid across the runs. */
  private _renderSeries(): void {
    const data = this._data!;
    const names = Array.from(new Set(data.runs.flatMap(run => Object.keys(data.series[run.run_id] || {}))));
    const scale: Scale = this._seriesLog ? 'log' : 'linear';
    this._seriesArea.render(JSON.stringify([names, scale, data.runs.length]), () => {
      const toggle = h('label', { className: 'aml-CompareToggle' }, h('input', {
        type: 'checkbox', 'aria-label': 'Log scale for series', checked: this._seriesLog,
        onchange: (event: Event) => {
          this._seriesLog = (event.target as HTMLInputElement).checked;
          this._renderSeries();
        }
      }), 'log scale');
      const charts = names.map(name => {
        const lines: ISeriesLine[] = [];
        data.runs.forEach((run, i) => {
          const points = (data.series[run.run_id] || {})[name];
          if (points && points.length) {
            lines.push({ runId: run.run_id, label: this._label(run), colour: runColour(i), points });
          }
        });
        return h('figure', { className: 'aml-CompareFigure' }, overlayChart(name, lines, scale),
          h('figcaption', {}, name));
      });
      return h('section', { className: 'aml-CompareSection' }, h('h3', {}, 'Metric series'),
        names.length ? [toggle, h('div', { className: 'aml-CompareCharts' }, ...charts)]
          : h('div', { className: 'aml-Empty' }, 'No metric was logged as a series of numbers.'));
    });
  }

  /** Metrics whose final value is a number in some run (what the scatter can plot). */
  private _scatterMetrics(data: RunComparisonJson): string[] {
    return data.metrics.filter(name => data.runs.some(run => numeric(run.metrics[name]) !== undefined));
  }

  private _scatterParameters(data: RunComparisonJson): string[] {
    return data.parameter_names.filter(name => data.runs.some(run => numeric((data.parameters[run.run_id] || {})[name]) !== undefined));
  }

  /** The scatter's first parameter: one that varies between the runs, else the first. */
  private _defaultParameter(data: RunComparisonJson): string {
    const names = this._scatterParameters(data);
    return names.find(name => differs(data.runs.map(run => (data.parameters[run.run_id] || {})[name]))) || names[0] || '';
  }

  private _renderScatter(): void {
    const data = this._data!;
    const metrics = this._scatterMetrics(data);
    const parameters = this._scatterParameters(data);
    const key = JSON.stringify([metrics, parameters, this._xName, this._yName, this._xLog, this._yLog, data.runs.length]);
    this._scatterArea.render(key, () => {
      const title = h('h3', {}, 'Metric against parameter');
      if (!metrics.length || !parameters.length) {
        return h('section', { className: 'aml-CompareSection' }, title, h('div', { className: 'aml-Empty' },
          'A scatter needs a numeric parameter and a numeric final metric.'));
      }
      const choose = (label: string, names: string[], chosen: string, set: (name: string) => void) =>
        h('select', {
          className: 'jp-mod-styled', 'aria-label': label,
          onchange: (event: Event) => {
            set((event.target as HTMLSelectElement).value);
            this._renderScatter();
          }
        }, ...names.map(name => {
          const option = h('option', { value: name }, name) as HTMLOptionElement;
          option.selected = name === chosen;
          return option;
        }));
      const toggle = (label: string, on: boolean, set: (on: boolean) => void) => h('label', { className: 'aml-CompareToggle' },
        h('input', {
          type: 'checkbox', 'aria-label': label, checked: on,
          onchange: (event: Event) => {
            set((event.target as HTMLInputElement).checked);
            this._renderScatter();
          }
        }), label);
      const points: IScatterPoint[] = [];
      let missing = 0;
      data.runs.forEach((run, i) => {
        const x = numeric((data.parameters[run.run_id] || {})[this._xName]);
        const y = numeric(run.metrics[this._yName]);
        if (x === undefined || y === undefined) {
          missing += 1;
        } else {
          points.push({ runId: run.run_id, label: this._label(run), colour: runColour(i), x, y });
        }
      });
      const chart = scatterChart(`--${this._xName}`, this._yName, points, this._xLog ? 'log' : 'linear', this._yLog ? 'log' : 'linear');
      const leftOut = missing + Number(chart.getAttribute('data-left-out') || 0);
      return h('section', { className: 'aml-CompareSection aml-CompareScatter' }, title,
        h('div', { className: 'aml-CompareControls' },
          h('label', {}, 'metric ', choose('Scatter metric', metrics, this._yName, name => { this._yName = name; })),
          h('label', {}, 'parameter ', choose('Scatter parameter', parameters, this._xName, name => { this._xName = name; })),
          toggle('Log x axis', this._xLog, on => { this._xLog = on; }),
          toggle('Log y axis', this._yLog, on => { this._yLog = on; })),
        h('figure', { className: 'aml-CompareFigure' }, chart),
        leftOut ? h('div', { className: 'aml-Empty aml-ScatterLeftOut' },
          `${leftOut} run${leftOut === 1 ? '' : 's'} not shown: no numeric value${this._xLog || this._yLog ? ', or not above 0 on a log axis' : ''}.`) : null);
    });
  }

  private _data: RunComparisonJson | undefined;
  private _xName = '';
  private _yName = '';
  private _xLog = false;
  private _yLog = false;
  private _seriesLog = false;
  private _top = new Rendered(h('div', { className: 'aml-CompareTop' }));
  private _seriesArea = new Rendered(h('div', { className: 'aml-CompareSeries' }));
  private _scatterArea = new Rendered(h('div', { className: 'aml-CompareScatterArea' }));
}

/** What the runs page's Compare compares: two or more ticked runs, else the chosen sweep. */
export function compareRequest(selected: Set<string>, sweep: string): ICompareRequest | null {
  if (selected.size >= 2) {
    return { runs: Array.from(selected) };
  }
  return !selected.size && sweep ? { sweep } : null;
}
