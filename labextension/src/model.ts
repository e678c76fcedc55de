import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './handler';
import { IAttachBody, ITargetType, ITargetTypes } from './components/types';
import { RunDetailModel } from './detailModel';
import { RunStates } from './runStates';
import {
  API_VERSION,
  AttachedTargetJson,
  IEnvironmentState,
  IPrepareJob,
  IProject,
  IRun,
  IRunConfiguration,
  IRunPage,
  ITarget,
  IVersion
} from './tokens';

/** Pause between two refreshes of the runs list while the sidebar shows it. */
const LIST_POLL_MS = 1000;
/** Pause between two refreshes while the sidebar is hidden (status bar count only). */
const HIDDEN_POLL_MS = 4000;
/** Pause between two reads of a prepare job's progress. */
const PREPARE_POLL_MS = 500;
export const PAGE_SIZE = 20;

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The state of the sidebar for one project: targets, the registry of target types, run
 * configurations, one page of runs with filters, and the open run. Each run's state lives once,
 * in `runs`, which the list and the detail both render. Components render on the signals; the
 * model does every request (asynchronously: nothing here blocks the browser).
 */
export class RunsModel {
  project: IProject | null = null;
  projectError = '';
  folder = '';
  targets: ITarget[] = [];
  environments: Record<string, IEnvironmentState> = {};
  runConfigurations: IRunConfiguration[] = [];
  /** The registered target types (the attach form's fields), null until loaded. */
  targetTypes: ITargetType[] | null = null;
  targetTypesError = '';
  page: IRunPage | null = null;
  statusFilter = '';
  targetFilter = '';
  offset = 0;
  error = '';
  versionError = '';
  prepareJobs: Record<string, IPrepareJob> = {};
  visible = false;
  /** The one state of every run shown (list rows and the open run). */
  readonly runs = new RunStates();
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

  /** The runs of the current page, in its order, each in its one current state. */
  get pageRuns(): IRun[] {
    return this.page ? this.page.runs.map(r => this.runs.get(r.run_id) || r) : [];
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
    void this.loadTargetTypes();
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
        this.runs.clear();
        this.page = null;
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

  /** The registry of target types, read once: it changes only with aml_magic itself. */
  async loadTargetTypes(): Promise<void> {
    try {
      this.targetTypes = (await requestAPI<ITargetTypes>('target-types')).types;
      this.targetTypesError = '';
    } catch (error) {
      this.targetTypesError = `cannot list the target types: ${message(error)}`;
    }
    this._emit();
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
    const project = this.project.path;
    try {
      const page = await requestAPI<IRunPage>('runs', {}, {
        ...this.params,
        status: this.statusFilter,
        target: this.targetFilter,
        limit: PAGE_SIZE,
        offset: this.offset
      });
      if (!this.project || this.project.path !== project) {
        return;                                     // the file browser moved meanwhile
      }
      this.page = page;
      this.runs.updateMany(page.runs);
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

  /** Attach a target; the body's secret values travel in this one request only. */
  async attach(body: IAttachBody): Promise<AttachedTargetJson> {
    const target = await requestAPI<AttachedTargetJson>('targets', {
      method: 'POST',
      body: JSON.stringify(body)
    }, this.params);
    await this.refreshTargets();
    return target;
  }

  async detach(name: string): Promise<void> {
    await requestAPI<void>(`targets/${encodeURIComponent(name)}`, { method: 'DELETE' },
      this.params);
    delete this.prepareJobs[name];
    delete this.environments[name];
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
      await new Promise(resolve => window.setTimeout(resolve, PREPARE_POLL_MS));
      job = await requestAPI<IPrepareJob>(`prepare/${job.job_id}`);
      this.prepareJobs[target] = job;
      this._emit();
    }
    await this.refreshEnvironment(target);
  }

  async submit(script: string, runConfiguration: string, args: string[]): Promise<string> {
    const run = await requestAPI<IRun>('runs', {
      method: 'POST',
      body: JSON.stringify({ run_configuration: runConfiguration, script, arguments: args })
    }, this.params);
    this.runs.update(run);
    await this.refreshRuns();
    return run.run_id;
  }

  /** Show an error of an action (a click) in the sidebar's message line. */
  fail(error: unknown): void {
    this.error = message(error);
    this._emit();
  }

  emit(): void {
    this._emit();
  }

  private _schedule(delay: number): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(async () => {
      await this.refreshRuns();
      this._schedule(this.visible ? LIST_POLL_MS : HIDDEN_POLL_MS);
    }, delay);
  }

  private _emit(): void {
    this._changed.emit(undefined);
  }

  private _timer = 0;
  private _changed = new Signal<this, void>(this);
  private _activeChanged = new Signal<this, number>(this);
}
