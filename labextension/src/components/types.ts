/**
 * Shapes the components need beyond tokens.ts (which mirrors the generated API types).
 * `GET /aml/api/target-types` is the one registry of target types and their attach options,
 * as the server derives it from aml_magic/domain/registry.py: the attach form renders it.
 */

/** How an attach option is entered: the attach form picks its input from this. */
export type OptionKind = 'text' | 'integer' | 'flag' | 'choice' | 'path' | 'password' | string;

/** One attach option of a target type (the CLI's `--flag`, the `.compute` key). */
export interface ITargetOption {
  name: string;
  key: string | null;
  flag: string;
  kind: OptionKind;
  default: unknown;
  help: string;
  /** Sent once, in the attach request; never kept in the page or a file. */
  secret: boolean;
  required: boolean;
  choices: string[] | null;
  /** Optional, if the server sends them: a label for the field and an example value. */
  label?: string;
  example?: string;
}

/** One registered target type: where runs live (placement) and how they start (launch). */
export interface ITargetType {
  name: string;
  aliases: string[];
  summary: string;
  placement: string;
  launch: string;
  options: ITargetOption[];
}

export interface ITargetTypes {
  types: ITargetType[];
}

/** The attach request: type, name and the chosen type's options by name. */
export interface IAttachBody {
  type: string;
  name: string;
  [option: string]: string | number | boolean;
}
