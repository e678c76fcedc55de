/**
 * The names the components use for the registry of target types and the attach request.
 * `GET /aml/api/target-types` is the one registry of target types and their attach options
 * (aml_magic/domain/registry.py); its shape and the attach body's are generated with every
 * other API type (src/generated/api.ts, from aml_magic/service/contract/api.schema.json), so
 * no API type is written by hand here.
 */
export type {
  AttachOptionJson as ITargetOption,
  AttachRequest as IAttachBody,
  OptionKind,
  TargetTypeJson as ITargetType,
  TargetTypesJson as ITargetTypes
} from '../generated/api';
