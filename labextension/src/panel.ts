import { Widget } from '@lumino/widgets';

import { apiUrl } from './handler';
import { h, replaceChildren } from './dom';
import { formatBytes, formatDuration, formatValue, runDuration } from './format';
import { seriesChart } from './chart';
import { PAGE_SIZE, RunsModel } from './model';
import { ALL_STATUSES, IMetric, IRun, isTerminal } from './tokens';

function badge(status: string): HTMLElement {
  return h('span', { className: `aml-Badge aml-Status-${status}`, title: status }, status);
}

/**
 * The "Runs" sidebar: the project's targets (attach, detach, prepare), its runs (filters,
 * paging) and the open run (log tail, metrics chart, masked environment, outputs, cancel).
 */
export class RunsPanel extends Widget {
  constructor(readonly model: RunsModel) {
    super();
    this.id = 'aml-magic-sidebar';
    this.addClass('aml-Sidebar');
    this.title.caption = 'aml_magic runs';
    this.node.appendChild(this._header);
    this.node.appendChild(this._message);
    this.node.appendChild(h('h3', {}, 'Targets'));
    this.node.appendChild(this._targets);
    this.node.appendChild(this._attachToggle);
    this.node.appendChild(this._attachForm);
    this.node.appendChild(h('h3', {}, 'Runs'));
    this.node.appendChild(this._filters());
    this.node.appendChild(this._runs);
    this.node.appendChild(this._pager);
    this.node.appendChild(this._detail);
    this._attachForm.style.display = 'none';
    model.changed.connect(this._render, this);
    model.detail.changed.connect(this._renderDetail, this);
    this._render();
  }

  protected onAfterShow(): void {
    this.model.visible = true;
    void this.model.refreshRuns();
  }

  protected onAfterHide(): void {
    this.model.visible = false;
  }

  private _render(): void {
    const m = this.model;
    replaceChildren(
      this._header,
      m.project
        ? h('div', { className: 'aml-Project' }, `Project: ${m.project.name}`,
          h('span', { className: 'aml-ProjectPath' }, ` (/${m.project.path})`))
        : h('div', { className: 'aml-Project aml-NoProject' }, m.projectError || 'Looking for a project…')
    );
    replaceChildren(this._message, m.versionError || m.error
      ? h('div', { className: 'aml-Error' }, m.versionError || m.error) : null);
    this._renderTargets();
    this._renderRuns();
  }

  private _renderTargets(): void {
    const m = this.model;
    const rows = m.targets.map(t => {
      const env = m.environments[t.name];
      const job = m.prepareJobs[t.name];
      const prepared = !env ? '…' : env.prepared === null ? '?' : env.prepared ? 'yes' : 'no';
      return h('tbody', { className: 'aml-Target', 'data-name': t.name },
        h('tr', {},
          h('td', { className: 'aml-TargetName' }, t.name),
          h('td', { className: 'aml-TargetType' }, t.type),
          h('td', { className: 'aml-TargetAddress' }, t.address || '-'),
          h('td', { className: 'aml-Prepared', title: env ? env.message : '' }, prepared),
          h('td', { className: 'aml-Actions' },
            h('button', { className: 'aml-PrepareButton aml-Small', disabled: !!job && job.state === 'running',
              onclick: () => void m.prepare(t.name).catch(e => this._fail(e)) }, 'Prepare'),
            h('button', { className: 'aml-DetachButton aml-Small', onclick: () => {
              if (window.confirm(`Detach compute target '${t.name}'? Its .compute and .runconfig files are removed.`)) {
                void m.detach(t.name).catch(e => this._fail(e));
              }
            } }, 'Detach'))),
        job ? h('tr', {}, h('td', { colspan: 5 },
          h('div', { className: `aml-PrepareState aml-Job-${job.state}` }, `Prepare: ${job.state}${job.message ? ' — ' + job.message : ''}`),
          h('pre', { className: 'aml-PrepareProgress' }, job.progress.slice(-12).join('\n')))) : null);
    });
    replaceChildren(this._targets, m.targets.length
      ? h('table', { className: 'aml-Table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Address'),
          h('th', {}, 'Prepared'), h('th', {}, ''))), ...rows)
      : h('div', { className: 'aml-Empty' }, m.project ? 'No compute targets.' : ''));
  }

  private _renderRuns(): void {
    const m = this.model;
    const page = m.page;
    const targetSelect = this._targetFilter;
    const wanted = ['', ...m.targets.map(t => t.name)];
    if (Array.from(targetSelect.options).map(o => o.value).join('|') !== wanted.join('|')) {
      replaceChildren(targetSelect, ...wanted.map(v => h('option', { value: v }, v || 'all targets')));
      targetSelect.value = m.targetFilter;
    }
    if (!page) {
      replaceChildren(this._runs);
      replaceChildren(this._pager);
      return;
    }
    const rows = page.runs.map(run => this._runRow(run, page.metrics[run.run_id] || {}));
    replaceChildren(this._runs, page.runs.length
      ? h('table', { className: 'aml-Table aml-RunsTable' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', {}, 'Run'), h('th', {}, 'Target'),
          h('th', {}, 'Duration'), h('th', {}, 'Metrics'))), h('tbody', {}, ...rows))
      : h('div', { className: 'aml-Empty' }, 'No runs match.'));
    const last = Math.min(page.offset + page.runs.length, page.total);
    replaceChildren(this._pager,
      h('button', { className: 'aml-PrevPage aml-Small', disabled: page.offset === 0,
        onclick: () => m.setOffset(page.offset - PAGE_SIZE) }, '‹ Newer'),
      h('span', { className: 'aml-PageInfo' }, page.total ? `${page.offset + 1}–${last} of ${page.total}` : '0 runs'),
      h('button', { className: 'aml-NextPage aml-Small', disabled: last >= page.total,
        onclick: () => m.setOffset(page.offset + PAGE_SIZE) }, 'Older ›'));
  }

  private _runRow(run: IRun, metrics: Record<string, unknown>): HTMLElement {
    const selected = this.model.detail.runId === run.run_id;
    return h('tr', { className: `aml-Run${selected ? ' aml-mod-selected' : ''}`, 'data-run-id': run.run_id,
      'data-status': run.status, title: run.reason || run.run_id,
      onclick: () => this.model.detail.open(run.run_id) },
      h('td', {}, badge(run.status)),
      h('td', { className: 'aml-RunId' }, run.script ? `${run.script} ` : '', h('small', {}, run.run_id.slice(-13))),
      h('td', {}, run.target),
      h('td', { className: 'aml-Duration' }, formatDuration(runDuration(run))),
      h('td', { className: 'aml-RunMetrics' }, Object.entries(metrics)
        .map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')));
  }

  private _renderDetail(): void {
    const d = this.model.detail;
    const run = d.detail;
    if (!d.runId) {
      replaceChildren(this._detail);
      this._logShown = 0;
      return;
    }
    if (!run) {
      replaceChildren(this._detail, h('div', { className: 'aml-RunDetail' }, d.error || `Loading ${d.runId}…`));
      this._logShown = 0;
      return;
    }
    if (this._logShown === 0 || !this._detail.contains(this._log) || this._detailRun !== run.run_id) {
      this._log = h('pre', { className: 'aml-Log' });
      this._logShown = 0;
      this._detailRun = run.run_id;
    }
    if (d.log.length > this._logShown) {
      const atBottom = this._log.scrollTop + this._log.clientHeight >= this._log.scrollHeight - 4;
      this._log.appendChild(document.createTextNode(d.log.slice(this._logShown)));
      this._logShown = d.log.length;
      if (atBottom) {
        this._log.scrollTop = this._log.scrollHeight;
      }
    }
    const compute = run.configuration.compute || {};
    const interpreter = run.python ||
      String(compute['pythonLocation'] || compute['python_location'] || '') ||
      `the ${run.target_type} target's default (pythonLocation not set)`;
    replaceChildren(this._detail, h('div', { className: 'aml-RunDetail', 'data-run-id': run.run_id },
      h('div', { className: 'aml-DetailHeader' },
        h('button', { className: 'aml-CloseDetail aml-Small', title: 'Close', onclick: () => d.close() }, '×'),
        h('strong', {}, run.run_id), ' ', badge(run.status),
        isTerminal(run.status) ? null : h('button', { className: 'aml-CancelButton aml-Small aml-Danger',
          onclick: () => void d.cancel().catch(e => this._fail(e)) }, 'Cancel')),
      d.error ? h('div', { className: 'aml-Error' }, d.error) : null,
      run.reason ? h('div', { className: 'aml-Reason' }, run.reason) : null,
      run.unreachable ? h('div', { className: 'aml-Error' }, `Target unreachable: ${run.unreachable}`) : null,
      h('table', { className: 'aml-Table aml-Facts' }, h('tbody', {},
        h('tr', {}, h('th', {}, 'Target'), h('td', {}, `${run.target} (${run.target_type})`)),
        h('tr', {}, h('th', {}, 'Arguments'), h('td', { className: 'aml-Arguments' }, run.command.join(' '))),
        h('tr', {}, h('th', {}, 'Interpreter'), h('td', { className: 'aml-Interpreter' }, interpreter)),
        h('tr', {}, h('th', {}, 'Duration'), h('td', {}, formatDuration(runDuration(run)))),
        h('tr', {}, h('th', {}, 'Exit code'), h('td', {}, run.exit_code === null ? '-' : String(run.exit_code))))),
      h('h4', {}, 'Metrics'), this._metrics(run.metrics),
      h('h4', {}, 'Environment'),
      Object.keys(run.environment).length
        ? h('table', { className: 'aml-Table aml-Environment' }, h('tbody', {},
          ...Object.entries(run.environment).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))))
        : h('div', { className: 'aml-Empty' }, 'No variables set.'),
      h('h4', {}, 'Outputs'),
      run.outputs.length
        ? h('ul', { className: 'aml-Outputs' }, ...run.outputs.map(o => h('li', {},
          h('a', { className: 'aml-Output', download: o.path.split('/').pop() || o.path,
            href: apiUrl(`runs/${encodeURIComponent(run.run_id)}/outputs/${o.path.split('/').map(encodeURIComponent).join('/')}`, this.model.params) },
          o.path), ` ${formatBytes(o.size)}`)))
        : h('div', { className: 'aml-Empty' }, isTerminal(run.status) ? 'No outputs.' : 'Collected when the run ends.'),
      h('h4', {}, 'Log'), this._log));
  }

  private _metrics(metrics: IMetric[]): HTMLElement {
    const byName = new Map<string, IMetric[]>();
    for (const metric of metrics) {
      byName.set(metric.name, [...(byName.get(metric.name) || []), metric]);
    }
    const scalars: HTMLElement[] = [];
    const charts: Node[] = [];
    for (const [name, rows] of byName) {
      const numeric = rows.filter(r => typeof r.value === 'number');
      const last = rows[rows.length - 1].value;
      if (numeric.length > 1) {
        charts.push(seriesChart(name, numeric.map((r, i) => [r.step ?? i, r.value as number])));
      } else if (Array.isArray(last) && last.length > 1 && last.every(v => typeof v === 'number')) {
        charts.push(seriesChart(name, (last as number[]).map((v, i) => [i, v])));
      }
      scalars.push(h('tr', { 'data-metric': name }, h('th', {}, name), h('td', {}, formatValue(last)),
        h('td', {}, rows.length > 1 ? `${rows.length} values` : '')));
    }
    if (!scalars.length) {
      return h('div', { className: 'aml-Empty' }, 'No metrics logged.');
    }
    return h('div', { className: 'aml-Metrics' },
      h('table', { className: 'aml-Table' }, h('tbody', {}, ...scalars)),
      h('div', { className: 'aml-Charts' }, ...charts));
  }

  private _filters(): HTMLElement {
    const status = h('select', { className: 'aml-StatusFilter jp-mod-styled', 'aria-label': 'status filter' },
      h('option', { value: '' }, 'all statuses'), ...ALL_STATUSES.map(s => h('option', { value: s }, s))) as HTMLSelectElement;
    const apply = () => this.model.setFilters(status.value, this._targetFilter.value);
    status.addEventListener('change', apply);
    this._targetFilter.addEventListener('change', apply);
    return h('div', { className: 'aml-Filters' }, status, this._targetFilter);
  }

  private _buildAttachForm(): HTMLFormElement {
    const field = (label: string, input: HTMLElement) => h('label', {}, h('span', {}, label), input);
    const input = (name: string, type = 'text', placeholder = '') =>
      h('input', { name, type, placeholder, className: 'jp-mod-styled', autocomplete: type === 'password' ? 'new-password' : 'off' }) as HTMLInputElement;
    const type = h('select', { name: 'type', className: 'jp-mod-styled' },
      ...['remote', 'remotedocker', 'docker', 'cluster'].map(t => h('option', { value: t }, t))) as HTMLSelectElement;
    const name = input('name', 'text', 'myvm');
    const address = input('address', 'text', 'host:22');
    const username = input('username');
    const password = input('password', 'password');
    const fingerprint = input('host_key_fingerprint', 'text', 'SHA256:…');
    const trust = h('input', { name: 'trust_new_host_key', type: 'checkbox' }) as HTMLInputElement;
    const form = h('form', { className: 'aml-AttachForm' },
      field('Type', type), field('Name', name), field('Address', address), field('Username', username),
      field('Password', password), field('Host key', fingerprint),
      h('label', { className: 'aml-Check' }, trust, ' trust a new host key'),
      h('button', { type: 'submit', className: 'jp-mod-styled jp-mod-accept' }, 'Attach')) as HTMLFormElement;
    form.addEventListener('submit', event => {
      event.preventDefault();
      const request = {
        type: type.value, name: name.value.trim(), address: address.value.trim() || undefined,
        username: username.value.trim() || undefined, password: password.value || undefined,
        host_key_fingerprint: fingerprint.value.trim() || undefined, trust_new_host_key: trust.checked
      };
      password.value = ''; // sent once, in this request only: never kept in the page
      void this.model.attach(request).then(() => {
        form.reset();
        form.style.display = 'none';
      }).catch(e => this._fail(e));
    });
    return form;
  }

  private _fail(error: unknown): void {
    this.model.error = error instanceof Error ? error.message : String(error);
    this.model.emit();
  }

  private _header = h('div', { className: 'aml-Header' });
  private _message = h('div', { className: 'aml-Messages' });
  private _targets = h('div', { className: 'aml-Targets' });
  private _attachForm = this._buildAttachForm();
  private _attachToggle = h('button', { className: 'aml-AttachToggle aml-Small', onclick: () => {
    this._attachForm.style.display = this._attachForm.style.display === 'none' ? '' : 'none';
  } }, 'Attach…');
  private _targetFilter = h('select', { className: 'aml-TargetFilter jp-mod-styled', 'aria-label': 'target filter' }) as HTMLSelectElement;
  private _runs = h('div', { className: 'aml-Runs' });
  private _pager = h('div', { className: 'aml-Pager' });
  private _detail = h('div', { className: 'aml-DetailArea' });
  private _log = h('pre', { className: 'aml-Log' });
  private _logShown = 0;
  private _detailRun = '';
}
