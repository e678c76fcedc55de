/**
 * The JSON shapes of the aml_magic REST API (see docs/rest.md); they mirror
 * aml_magic/service/schema.py, the one schema module the CLI's `-o json` uses too.
 */

/** The REST API version this front end speaks; the server answers it in `GET version`. */
export const API_VERSION = 1;

export interface IVersion {
  version: string;
  api: number;
}

export interface IProject {
  name: string;
  /** The project folder relative to the server's root ('' for the root itself). */
  path: string;
}

export interface IMetric {
  name: string;
  value: unknown;
  step: number | null;
  time: number | null;
}

export interface IOutput {
  path: string;
  size: number;
  sha256: string;
}

export interface IRun {
  run_id: string;
  project: string;
  run_configuration: string | null;
  target: string;
  target_type: string;
  status: string;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  duration: number | null;
  exit_code: number | null;
  reason: string | null;
  command: string[];
  script: string | null;
  environment: Record<string, string>;
}

export interface IRunDetail extends IRun {
  configuration: {
    runconfig?: Record<string, unknown>;
    compute?: Record<string, unknown>;
  };
  metrics: IMetric[];
  outputs: IOutput[];
  log?: string;
  unreachable?: string;
  /** The interpreter the run used (path and version), as the agent reported it. */
  python?: string;
}

export interface IRunPage {
  project: IProject;
  runs: IRun[];
  metrics: Record<string, Record<string, unknown>>;
  total: number;
  active: number;
  limit: number;
  offset: number;
}

export interface ILogChunk {
  run_id: string;
  offset: number;
  next_offset: number;
  text: string;
  status: string;
  complete: boolean;
}

export interface ITarget {
  name: string;
  type: string;
  address: string | null;
  username: string | null;
  settings: Record<string, unknown>;
}

export interface IRunConfiguration {
  name: string;
  target: string;
  framework: string;
  arguments: string[];
  environment: Record<string, string>;
}

export interface IEnvironmentState {
  target: string;
  run_configuration: string | null;
  prepared: boolean | null;
  message: string;
}

export interface IPrepareJob {
  job_id: string;
  project: string;
  run_configuration: string;
  state: 'running' | 'succeeded' | 'failed';
  progress: string[];
  message: string | null;
  built: boolean | null;
}

/** What the Attach form sends; the password travels once, in this body only. */
export interface IAttachRequest {
  type: string;
  name: string;
  address?: string;
  username?: string;
  password?: string;
  host_key_fingerprint?: string;
  trust_new_host_key?: boolean;
}

export const TERMINAL_STATUSES = ['Completed', 'Failed', 'Canceled'];
export const ALL_STATUSES = [
  'Queued',
  'Preparing',
  'Running',
  'Finalizing',
  'Completed',
  'Failed',
  'Canceled'
];

export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.indexOf(status) >= 0;
}
