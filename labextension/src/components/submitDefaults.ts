import { IEnvironmentState, IRunConfiguration } from '../tokens';

/** Where the browser remembers the last run configuration submitted to, per project. */
const KEY = 'aml-magic:last-submit';

function remembered(project: string): string | null {
  try {
    const all = JSON.parse(window.localStorage.getItem(KEY) || '{}') as Record<string, string>;
    return typeof all[project] === 'string' ? all[project] : null;
  } catch {
    return null;
  }
}

/** Remember CONFIG as the last one used in PROJECT (best effort: storage may be off). */
export function rememberSubmit(project: string, config: string): void {
  try {
    const all = JSON.parse(window.localStorage.getItem(KEY) || '{}') as Record<string, string>;
    all[project] = config;
    window.localStorage.setItem(KEY, JSON.stringify(all));
  } catch {
    // private mode or a full storage: the dialog falls back to the first prepared target
  }
}

/**
 * The run configuration the submit dialog starts on: the last one used in this project if its
 * target is prepared, else the first whose target is prepared; never one whose target is not
 * (or not known to be) prepared: then null, and the user picks.
 */
export function defaultConfiguration(
  project: string,
  configs: IRunConfiguration[],
  environments: Record<string, IEnvironmentState>
): string | null {
  const prepared = (c: IRunConfiguration) => environments[c.target]?.prepared === true;
  const last = remembered(project);
  const lastConfig = configs.find(c => c.name === last);
  if (lastConfig && prepared(lastConfig)) {
    return lastConfig.name;
  }
  return configs.find(prepared)?.name ?? null;
}
