/**
 * Schema validation for the API. Bodies are validated strictly (no type coercion: `"8001"` is
 * not a port, `"gpu"` is not a list); query strings and path parameters arrive as text, so they
 * are coerced (`?include_inactive=true` → true).
 */
import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const COMMON: Options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false };

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = new Ajv({ ...COMMON, coerceTypes: false });
  const coercing = new Ajv({ ...COMMON, coerceTypes: 'array' });
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}
