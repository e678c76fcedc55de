import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, requestAPI } from './handler';
import {
  API_VERSION,
  IAttachRequest,
  IEnvironmentState,
  ILogChunk,
  IPrepareJob,
  IProject,
  IRunConfiguration,
  IRunDetail,
  IRunPage,
  ITarget,
  IVersion,
  isTerminal
} from './tokens';

/** Pause between two reads of an open run's log (the "log line in < 1 s" budget). */
const LOG_POLL_MS = 300;
/** Pause between two refreshes of the runs list while the sidebar shows it. */
const LIST_POLL_MS = 1000;
/** Pause between two refreshes while the sidebar is hidden (status bar count only). */
const HIDDEN_POLL_MS = 4000;
export const PAGE_SIZE = 20;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The state of the sidebar for one project: targets, run configurations, one page of runs
 * with filters, and the open run. Widgets render it on `changed`; it polls the server.
 */
export class RunsModel {
  project: IProject | null = null;
  projectError = '';
  folder = '';
  targets: ITarget[] = [];
  environments: Record<string, IEnvironmentState> = {};
  runConfigurations: IRunConfiguration[] = [];
  page: IRunPage | null = null;
  statusFilter = '';
  targetFilter = '';
  offset = 0;
  error = '';
  versionError = '';
  prepareJobs: Record<string, IPrepareJob> = {};
  visible = false;
  readonly detail = new RunDetailModel(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get activeChanged(): ISignal<this, number> {
    return this._activeChanged;
  }

  get activeCount(): number {
    return this.page ? this.page.active : 0;
  }

  /** Check the server speaks our API version, then start polling. */
  async start(): Promise<void> {
    try {
      const version = await requestAPI<IVersion>('version');
      if (version.api !== API_VERSION) {
        this.versionError = `the aml_magic server speaks API ${version.api}, this sidebar ${API_VERSION}: reinstall aml_magic and reload`;
      }
    } catch (error) {
      this.versionError = `the aml_magic server extension does not answer: ${message(error)}`;
    }
    this._emit();
    this._schedule(0);
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this.detail.close();
  }

  get params(): Record<string, string> {
    return { project: this.project ? this.project.path : this.folder };
  }

  /** The file browser moved: find the project at or above that folder. */
  async setFolder(folder: string): Promise<void> {
    if (folder === this.folder && this.project) {
      return;
    }
    this.folder = folder;
    try {
      const project = await requestAPI<IProject>('projects', {}, { path: folder });
      const changedProject = !this.project || this.project.path !== project.path;
      this.project = project;
      this.projectError = '';
      if (changedProject) {
        this.offset = 0;
        this.detail.close();
        await this.refreshTargets();
      }
    } catch (error) {
      this.project = null;
      this.projectError = message(error);
      this.page = null;
      this.targets = [];
    }
    await this.refreshRuns();
  }

  async refreshTargets(): Promise<void> {
    if (!this.project) {
      return;
    }
    try {
      const [targets, configs] = await Promise.all([
        requestAPI<{ targets: ITarget[] }>('targets', {}, this.params),
        requestAPI<{ run_configurations: IRunConfiguration[] }>('runconfigs', {}, this.params)
      ]);
      this.targets = targets.targets;
      this.runConfigurations = configs.run_configurations;
      this.error = '';
    } catch (error) {
      this.error = message(error);
    }
    this._emit();
    for (const target of this.targets) {
      void this.refreshEnvironment(target.name);
    }
  }

  async refreshEnvironment(name: string): Promise<void> {
    try {
      this.environments[name] = await requestAPI<IEnvironmentState>(
        `targets/${encodeURIComponent(name)}/environment`,
        {},
        this.params
      );
    } catch (error) {
      this.environments[name] = {
        target: name,
        run_configuration: null,
        prepared: null,
        message: message(error)
      };
    }
    this._emit();
  }

  async refreshRuns(): Promise<void> {
    if (!this.project) {
      this._emit();
      return;
    }
    try {
      this.page = await requestAPI<IRunPage>('runs', {}, {
        ...this.params,
        status: this.statusFilter,
        target: this.targetFilter,
        limit: PAGE_SIZE,
        offset: this.offset
      });
      this.error = '';
    } catch (error) {
      this.error = message(error);
    }
    this._emit();
    this._activeChanged.emit(this.activeCount);
  }

  setFilters(status: string, target: string): void {
    this.statusFilter = status;
    this.targetFilter = target;
    this.offset = 0;
    void this.refreshRuns();
  }

  setOffset(offset: number): void {
    this.offset = Math.max(0, offset);
    void this.refreshRuns();
  }

  async attach(request: IAttachRequest): Promise<void> {
    await requestAPI<ITarget>('targets', { method: 'POST', body: JSON.stringify(request) },
      this.params);
    await this.refreshTargets();
  }

  async detach(name: string): Promise<void> {
    await requestAPI<void>(`targets/${encodeURIComponent(name)}`, { method: 'DELETE' },
      this.params);
    await this.refreshTargets();
  }

  /** Start a prepare job for the target's run configuration and follow its progress. */
  async prepare(target: string): Promise<void> {
    let job = await requestAPI<IPrepareJob>('prepare', {
      method: 'POST',
      body: JSON.stringify({ target })
    }, this.params);
    this.prepareJobs[target] = job;
    this._emit();
    while (job.state === 'running') {
      await new Promise(resolve => window.setTimeout(resolve, 500));
      job = await requestAPI<IPrepareJob>(`prepare/${job.job_id}`);
      this.prepareJobs[target] = job;
      this._emit();
    }
    await this.refreshEnvironment(target);
  }

  async submit(script: string, runConfiguration: string, args: string[]): Promise<string> {
    const run = await requestAPI<{ run_id: string }>('runs', {
      method: 'POST',
      body: JSON.stringify({ run_configuration: runConfiguration, script, arguments: args })
    }, this.params);
    await this.refreshRuns();
    return run.run_id;
  }

  private _schedule(delay: number): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(async () => {
      await this.refreshRuns();
      this._schedule(this.visible ? LIST_POLL_MS : HIDDEN_POLL_MS);
    }, delay);
  }

  emit(): void {
    this._emit();
  }

  private _emit(): void {
    this._changed.emit(undefined);
  }

  private _timer = 0;
  private _changed = new Signal<this, void>(this);
  private _activeChanged = new Signal<this, number>(this);
}

/** The open run: its detail and its log, followed while the run is active. */
export class RunDetailModel {
  constructor(readonly parent: RunsModel) {}

  runId: string | null = null;
  detail: IRunDetail | null = null;
  log = '';
  error = '';

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  open(runId: string): void {
    this.close();
    this.runId = runId;
    this.log = '';
    this._offset = 0;
    this.detail = null;
    this._generation += 1;
    void this._follow(this._generation);
  }

  close(): void {
    this._generation += 1;
    this.runId = null;
    this.detail = null;
    this._changed.emit(undefined);
  }

  async cancel(): Promise<void> {
    if (!this.runId) {
      return;
    }
    await requestAPI(`runs/${encodeURIComponent(this.runId)}/cancel`, { method: 'POST' },
      this.parent.params);
    await this.parent.refreshRuns();
  }

  private async _follow(generation: number): Promise<void> {
    let lastDetail = 0;
    while (generation === this._generation && this.runId) {
      const runId = this.runId;
      try {
        const chunk = await requestAPI<ILogChunk>(
          `runs/${encodeURIComponent(runId)}/log`, {}, { ...this.parent.params, offset: this._offset });
        if (generation !== this._generation) {
          return;
        }
        this.log += chunk.text;
        this._offset = chunk.next_offset;
        const statusChanged = !this.detail || this.detail.status !== chunk.status;
        if (statusChanged || Date.now() - lastDetail > 2000 || chunk.complete) {
          this.detail = await requestAPI<IRunDetail>(
            `runs/${encodeURIComponent(runId)}`, {}, this.parent.params);
          lastDetail = Date.now();
          if (statusChanged) {
            void this.parent.refreshRuns(); // the list shows the state the detail just read
          }
        }
        this.error = '';
        this._changed.emit(undefined);
        if (chunk.complete && this.detail && isTerminal(this.detail.status)) {
          return;
        }
      } catch (error) {
        this.error = message(error);
        this._changed.emit(undefined);
        if (error instanceof ApiError && error.status === 404) {
          return;
        }
      }
      await new Promise(resolve => window.setTimeout(resolve, LOG_POLL_MS));
    }
  }

  private _offset = 0;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}
