#!/usr/bin/env node
/**
 * Writes src/generated/api.ts: the TypeScript types of the aml_magic API, generated from the
 * one committed JSON Schema (aml_magic/service/contract/api.schema.json, itself generated from
 * the Python models). Run by `npm run build:types` (part of `build` / `build:prod`, before
 * tsc); tests/test_contract.py regenerates it into a temp folder and fails on any difference.
 *
 *   node scripts/schema-to-ts.mjs [SCHEMA] [OUTPUT]
 *
 * It knows the subset of JSON Schema the Python generator (typed_json.py) writes: $ref, allOf
 * with one $ref, enum, type (one or a list), array items, object properties / required /
 * additionalProperties, anyOf. Anything else is an error, so a new construct cannot be
 * silently typed as `unknown`. No dependencies beyond Node itself.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const schemaPath = resolve(process.argv[2] || join(root, '..', 'aml_magic', 'service', 'contract', 'api.schema.json'));
const outputPath = resolve(process.argv[3] || join(root, 'src', 'generated', 'api.ts'));

const SCALARS = { string: 'string', integer: 'number', number: 'number', boolean: 'boolean', null: 'null' };
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function fail(where, message) {
  throw new Error(`${schemaPath}: ${where}: ${message}`);
}

function literal(value) {
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(value);
}

function union(parts) {
  return [...new Set(parts)].join(' | ');
}

const KNOWN = new Set(['description', '$ref', 'allOf', 'enum', 'anyOf', 'type', 'items',
  'properties', 'required', 'additionalProperties']);

function tsType(schema, where) {
  const unknown = Object.keys(schema).filter(key => !KNOWN.has(key));
  if (unknown.length) {
    fail(where, `unsupported keyword(s) ${unknown.join(', ')}`);
  }
  if (schema.$ref) {
    const prefix = '#/$defs/';
    if (!schema.$ref.startsWith(prefix)) {
      fail(where, `unsupported $ref ${schema.$ref}`);
    }
    return schema.$ref.slice(prefix.length);
  }
  if (schema.allOf) {
    if (schema.allOf.length !== 1) {
      fail(where, 'allOf with more than one member');
    }
    return tsType(schema.allOf[0], where);
  }
  if (schema.enum) {
    return union(schema.enum.map(literal));
  }
  if (schema.anyOf) {
    return union(schema.anyOf.map((part, i) => tsType(part, `${where}.anyOf[${i}]`)));
  }
  if (schema.type === undefined) {
    return 'unknown';
  }
  if (Array.isArray(schema.type)) {
    return union(schema.type.map(t => tsType({ ...schema, type: t }, where)));
  }
  if (schema.type in SCALARS) {
    return SCALARS[schema.type];
  }
  if (schema.type === 'array') {
    const item = tsType(schema.items || {}, `${where}.items`);
    return /[ |]/.test(item) ? `(${item})[]` : `${item}[]`;
  }
  if (schema.type === 'object' && !schema.properties) {
    const value = schema.additionalProperties === undefined || schema.additionalProperties === true
      ? 'unknown' : tsType(schema.additionalProperties, `${where}.additionalProperties`);
    return `Record<string, ${value}>`;
  }
  fail(where, `unsupported schema ${JSON.stringify(schema)}`);
}

function doc(text, indent) {
  if (!text) {
    return [];
  }
  const clean = text.replace(/\*\//g, '*\\/').replace(/``/g, '`');
  return [`${indent}/** ${clean} */`];
}

function declaration(name, schema) {
  const lines = doc(schema.description, '');
  if (schema.type === 'object' && schema.properties) {
    const required = new Set(schema.required || []);
    lines.push(`export interface ${name} {`);
    for (const [key, prop] of Object.entries(schema.properties)) {
      const type = tsType(prop, `${name}.${key}`);
      const quoted = IDENTIFIER.test(key) ? key : literal(key);
      lines.push(...doc(prop.description, '  '));
      lines.push(`  ${quoted}${required.has(key) ? '' : '?'}: ${type};`);
    }
    const extra = schema.additionalProperties;
    if (extra !== undefined && extra !== false) {
      const type = extra === true ? 'unknown' : tsType(extra, `${name}.additionalProperties`);
      lines.push('  /** Keys not declared here (see the description). */');
      lines.push(`  [key: string]: ${type === 'unknown' ? type : `${type} | undefined`};`);
    }
    lines.push('}');
  } else {
    lines.push(`export type ${name} = ${tsType(schema, name)};`);
    if (schema.enum) {
      lines.push(`export const ${name}Values: readonly ${name}[] = [${schema.enum.map(literal).join(', ')}];`);
    }
  }
  return lines;
}

function generate(schema) {
  const source = relative(resolve(root, '..'), schemaPath).split('\\').join('/');
  const out = [
    '/* eslint-disable */',
    '/**',
    ` * Generated from ${source} by scripts/schema-to-ts.mjs: do not edit.`,
    ' * Change aml_magic/service/contract/models.py, run `python -m aml_magic.service.contract`,',
    ' * then `npm run build:types`.',
    ' */'
  ];
  if (!Number.isInteger(schema['x-api-version'])) {
    fail('x-api-version', 'missing: the REST API version the types describe');
  }
  out.push('', '/** The REST API version these types describe; the server answers it in `GET version`. */');
  out.push(`export const API_VERSION = ${schema['x-api-version']};`);
  for (const [name, def] of Object.entries(schema.$defs || {})) {
    out.push('', ...declaration(name, def));
  }
  return out.join('\n') + '\n';
}

const text = generate(JSON.parse(readFileSync(schemaPath, 'utf8')));
mkdirSync(dirname(outputPath), { recursive: true });
let current = null;
try {
  current = readFileSync(outputPath, 'utf8');
} catch {
  current = null;
}
if (current !== text) {
  writeFileSync(outputPath, text);
}
