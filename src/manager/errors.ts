/**
 * HTTP errors and the one error handler that turns anything thrown into the API's JSON error body
 * (`error`, `message`, `field`, `status_code`). Nothing else reaches a client: no stack traces.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorBody } from '../protocol/api.js';
import { StoreUnavailableError } from '../store/store.js';

export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${JSON.stringify(id)} not found`);
  }
}

export class ConflictError extends HttpError {
  override readonly name = 'ConflictError';
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/labels/zone` → `labels.zone`; a missing property is named itself. */
function fieldOf(v: AjvError): string | undefined {
  const path = v.instancePath.replace(/^\//, '').split('/').filter(Boolean);
  if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') path.push(v.params.missingProperty);
  if (v.keyword === 'additionalProperties' && typeof v.params.additionalProperty === 'string') path.push(v.params.additionalProperty);
  return path.length > 0 ? path.join('.') : undefined;
}

function validationMessage(v: AjvError, context: string | undefined, field: string | undefined): string {
  const where = context === 'body' ? 'body' : (context ?? 'request');
  if (v.keyword === 'required') return `${where}: ${field} is required`;
  if (v.keyword === 'additionalProperties') return `${where}: ${field} is not a known field`;
  if (v.keyword === 'enum' && Array.isArray(v.params.allowedValues)) return `${where}: ${field ?? where} must be one of ${v.params.allowedValues.join(', ')}`;
  return `${where}: ${field ?? where} ${v.message ?? 'is invalid'}`;
}

export function toErrorBody(statusCode: number, error: string, message: string, field?: string): ErrorBody {
  return field === undefined ? { error, message, status_code: statusCode } : { error, message, field, status_code: statusCode };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(toErrorBody(404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof HttpError) {
      return reply.code(err.statusCode).send(toErrorBody(err.statusCode, err.code, err.message, err.field));
    }
    if (err.validation && err.validation.length > 0) {
      const first = err.validation[0] as unknown as AjvError;
      const field = fieldOf(first);
      return reply.code(400).send(toErrorBody(400, 'validation_failed', validationMessage(first, err.validationContext, field), field));
    }
    if (err instanceof StoreUnavailableError) {
      req.log.error({ err }, 'store unavailable');
      return reply.code(503).send(toErrorBody(503, 'store_unavailable', 'the cluster store (Redis) is not answering; retry shortly'));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'payload_too_large'
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'unsupported_media_type'
            : err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
              ? 'invalid_json'
              : 'bad_request';
      return reply.code(status).send(toErrorBody(status, code, err.message));
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(toErrorBody(500, 'internal_error', 'internal error; see the manager log'));
  });
}
