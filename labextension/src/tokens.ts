/**
 * The JSON shapes of the aml_magic REST API (see docs/rest.md). The types themselves are
 * generated (src/generated/api.ts, from aml_magic/service/contract/api.schema.json, which the
 * Python models generate): this module re-exports them under the names the sidebar uses.
 */
import {
  AttachRequest,
  EnvironmentJson,
  LogChunkJson,
  MetricJson,
  OutputJson,
  PrepareJobJson,
  ProjectJson,
  RunConfigurationJson,
  RunDetailJson,
  RunJson,
  RunPageJson,
  RunStatus,
  RunStatusValues,
  TargetJson,
  VersionJson
} from './generated/api';

export * from './generated/api';

export type IVersion = VersionJson;
export type IProject = ProjectJson;
export type IMetric = MetricJson;
export type IOutput = OutputJson;
export type IRun = RunJson;
export type IRunDetail = RunDetailJson;
export type IRunPage = RunPageJson;
export type ILogChunk = LogChunkJson;
export type ITarget = TargetJson;
export type IRunConfiguration = RunConfigurationJson;
export type IEnvironmentState = EnvironmentJson;
export type IPrepareJob = PrepareJobJson;
/** What the Attach form sends; the password travels once, in this body only. */
export type IAttachRequest = AttachRequest;

export const TERMINAL_STATUSES: readonly RunStatus[] = ['Completed', 'Failed', 'Canceled'];
export const ALL_STATUSES: readonly RunStatus[] = RunStatusValues;

export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).indexOf(status) >= 0;
}
